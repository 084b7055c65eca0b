/**
 * Runs the streams this process can get a lease on. Every scan it lists the streams, tries the
 * lease of each active one it does not deliver yet, and starts a deliverer for each lease it got.
 * Any number of processes run this side by side: the lease makes exactly one of them deliver a
 * stream, and a crashed holder's lease expires so another takes over from the stored position.
 * Reads go through the feed (the store's read connections), never the ingest path, so a slow or
 * dead sink holds up only its own stream.
 */
import type { Logger } from '../util/logger.js'
import type { StreamRecord } from './definition.js'
import { Deliverer, type DelivererSettings, type StopReason } from './deliverer.js'
import type { FeedSource } from './feed-source.js'
import type { StreamObserver } from './observer.js'
import { sleep } from './retry.js'
import type { StreamSink } from './sink.js'
import type { StreamStore } from './stream-store.js'

export interface RunnerSettings extends DelivererSettings {
  scanEveryMs: number
}

export interface RunnerDependencies {
  store: StreamStore
  feed: FeedSource
  /** Builds a stream's sink; throwing (a bad option, an unavailable kind) parks the stream with that message. */
  createSink(stream: StreamRecord): StreamSink
  observer: StreamObserver
  logger: Logger
  /** Unique per process (host, pid, a random part): the lease owner. */
  owner: string
  settings: RunnerSettings
}

interface Running {
  done: Promise<StopReason>
  /** No new batch; the one in flight finishes. */
  stop: AbortController
  /** Cut the attempt in flight short. */
  abort: AbortController
}

/** How long stopping waits for batches in flight before cutting them short. */
const STOP_GRACE_MS = 5_000

export class StreamRunner {
  private readonly running = new Map<string, Running>()
  private readonly stopping = new AbortController()
  private loop: Promise<void> | undefined

  constructor(private readonly deps: RunnerDependencies) {}

  start(): void {
    this.loop ??= this.scanLoop()
  }

  /** Names of the streams this process delivers right now. */
  delivering(): string[] {
    return [...this.running.keys()]
  }

  /** Stops every deliverer (an attempt in flight is aborted; its batch is sent again by the next holder) and lets the leases go. */
  async stop(): Promise<void> {
    this.stopping.abort()
    const running = [...this.running.values()]
    for (const { stop } of running) stop.abort()
    await this.loop
    // A batch in flight finishes, so its position is saved and the next holder need not resend it;
    // one that takes too long is cut short (and its lease left to expire, see launch).
    const grace = Math.min(STOP_GRACE_MS, this.deps.settings.leaseTtlMs / 2)
    const all = Promise.allSettled(running.map((r) => r.done))
    const timer = setTimeout(() => running.forEach((r) => r.abort.abort()), grace)
    await all
    clearTimeout(timer)
  }

  private async scanLoop(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.scan()
      } catch (error) {
        this.deps.logger.warn({ err_message: (error as Error).message }, 'stream scan failed; retrying')
      }
      await sleep(this.deps.settings.scanEveryMs, this.stopping.signal)
    }
  }

  /** One pass: take every free active stream. Exposed for tests that drive the runner step by step. */
  async scan(): Promise<void> {
    const { store, owner, settings } = this.deps
    for (const record of await store.list()) {
      if (this.stopping.signal.aborted) return
      if (record.state !== 'active' || this.running.has(record.name)) continue
      const lease = await store.acquire(record.name, owner, settings.leaseTtlMs)
      if (!lease) continue
      // Read again under the lease: the position may have moved since the list.
      const fresh = await store.get(record.name)
      if (!fresh || fresh.state !== 'active') {
        await store.release(lease)
        continue
      }
      this.launch(fresh, lease)
    }
  }

  private launch(record: StreamRecord, lease: { name: string; owner: string; generation: number }): void {
    const { store, logger, observer } = this.deps
    const stop = new AbortController()
    const abort = new AbortController()
    const done = (async (): Promise<StopReason> => {
      let sink: StreamSink
      try {
        sink = this.deps.createSink(record)
      } catch (error) {
        await store.recordFailure(lease, (error as Error).message, { park: true })
        await store.release(lease)
        logger.warn({ stream: record.name, err_message: (error as Error).message }, 'stream parked: its sink cannot be built')
        return 'parked'
      }
      logger.info({ stream: record.name, generation: lease.generation, replay_of: record.replay_of }, 'stream delivery started in this process')
      let reason: StopReason = 'stopped'
      try {
        reason = await new Deliverer(record, lease, { ...this.deps, sink }).run(stop.signal, abort.signal)
      } catch (error) {
        logger.warn({ stream: record.name, err_message: (error as Error).message }, 'stream deliverer failed; it restarts from the stored position')
      } finally {
        await sink.close().catch(() => undefined)
        // After a cut-short attempt the receiver may still be processing it: releasing now would let
        // another process send the next batch alongside it. The lease expires on its own instead.
        if (reason !== 'lease_lost' && reason !== 'replay_done' && reason !== 'aborted') await store.release(lease).catch(() => undefined)
        observer.stopped(record.name)
        this.running.delete(record.name)
      }
      logger.info({ stream: record.name, reason }, 'stream delivery stopped in this process')
      return reason
    })()
    this.running.set(record.name, { done, stop, abort })
  }
}
