/**
 * Starts the stream deliverers of a `serve`, `worker` or `streams run` process. Every process that
 * shares the store runs them; the lease in the store makes exactly one deliver each stream at a time.
 */
import type { Config } from '../config.js'
import type { Registry } from 'prom-client'
import { StreamMetrics } from '../observability/stream-metrics.js'
import type { Store } from '../store/store.js'
import { streamFormatters } from '../stream/format.js'
import { packageVersion } from '../version.js'
import type { SigningKey } from '../integrity/checkpoint.js'
import { archiveSinkFactory } from '../stream/sinks/archive/from-definition.js'
import { sinkFactory } from '../stream/sinks/create-sink.js'
import { leaseOwner, startStreamRunner } from '../stream/start-runner.js'
import { SharedFeed } from '../stream/shared-feed.js'
import { StoreFeed } from '../stream/store-feed.js'
import type { Logger } from '../util/logger.js'
import type { Lifecycle } from './lifecycle.js'

export function startStreams(options: { config: Config; store: Store; logger: Logger; registry: Registry; role: 'serve' | 'worker' | 'streams'; lifecycle: Lifecycle; signingKey: SigningKey | undefined }): void {
  const { config, store, logger } = options
  if (!config.streams.enabled || !store.streams || !store.feed) return
  const metrics = new StreamMetrics(options.registry)
  const runner = startStreamRunner({
    streams: store.streams,
    // Each event read from the store once for all streams of this process that pass it within a
    // few seconds (src/stream/shared-feed.ts).
    feed: new SharedFeed(new StoreFeed(store.feed, store.integrity)),
    createSink: sinkFactory(streamFormatters({ ocsfClassMap: config.feed.ocsfClassMap, productVersion: packageVersion() }), { archive: archiveSinkFactory(options.signingKey) }),
    observer: metrics.observer,
    logger,
    owner: leaseOwner(options.role),
    settings: config.streams,
  })
  options.lifecycle.add('streams', () => runner.stop())
}
