import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from '../util/logger.js'
import type { StreamRecord } from './definition.js'
import type { FeedSource } from './feed-source.js'
import type { StreamObserver } from './observer.js'
import { StreamRunner, type RunnerSettings } from './runner.js'
import type { StreamSink } from './sink.js'
import type { StreamStore } from './stream-store.js'

/** A lease owner unique to this process: host and pid for people, a random part for pid reuse. */
export function leaseOwner(role: string): string {
  return `${hostname()}/${process.pid}/${role}/${randomBytes(3).toString('hex')}`
}

export interface StartRunnerOptions {
  streams: StreamStore
  feed: FeedSource
  createSink(stream: StreamRecord): StreamSink
  observer: StreamObserver
  logger: Logger
  owner: string
  settings: RunnerSettings
}

export function startStreamRunner(options: StartRunnerOptions): StreamRunner {
  const runner = new StreamRunner({ store: options.streams, feed: options.feed, createSink: options.createSink, observer: options.observer, logger: options.logger.child({ component: 'streams' }), owner: options.owner, settings: options.settings })
  runner.start()
  return runner
}
