import type { QueueConsumer, QueueEntry } from '../queue/queue.js'
import { insertIsolating, isolating, type IsolatingInsertReport } from '../store/isolating-insert.js'
import { prepareEvent, type PreparedEvent } from '../integrity/prepared-event.js'
import type { AuditEvent } from '../event/types.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { CONFIG_DEFAULTS } from '../config.js'
import { batchSizeFor, type AdaptiveBatchOptions } from './adaptive-batch.js'
import { backoffDelayMs, backoffFromConfig, type BackoffOptions } from './backoff.js'
import { withDeadline } from '../util/deadline.js'
import { recordDeadLetters } from './dead-letter-accounting.js'

export interface QueueWorkerOptions {
  consumer: QueueConsumer
  store: Store
  logger: Logger
  /** Unset settings take the `worker` section's defaults (src/config/intake.ts), with their reasons. */
  batch?: AdaptiveBatchOptions
  /** A batch is written when full or when its oldest entry has waited this long. */
  flushIntervalMs?: number
  /** Longest a read blocks when nothing is buffered, so stop() is noticed promptly. */
  idleBlockMs?: number
  /** Entries pending this long on any consumer are presumed orphaned by a dead worker and claimed. */
  claimIdleMs?: number
  /** How often to look for orphaned entries. */
  claimEveryMs?: number
  /** How often to refresh the queue depth that sizes batches. */
  depthEveryMs?: number
  retry?: BackoffOptions
  /**
   * While a batch waits out its backoff, the store is pinged this often; when it answers after
   * having refused, the wait ends and the batch is retried at once (see `waitOutStore`).
   */
  storeProbeEveryMs?: number
  /** Called when a batch is done (stored, dead-lettered, or left pending at shutdown). */
  onBatch?: (report: BatchReport) => void
  /**
   * Called the moment an insert attempt fails because the store is unavailable, before the retry
   * sleep. The batch's own report comes only when the store is back, so failure figures that wait
   * for it stay at zero for the whole outage and fire after recovery.
   */
  onFailedAttempt?: (failure: FailedAttempt) => void
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>
}

export interface BatchReport {
  size: number
  stored: number
  duplicates: number
  deadLettered: number
  /**
   * Insert attempts that failed because the store was unavailable, for this batch. Each was
   * already reported through `onFailedAttempt` when it happened: informational here, not to be counted again.
   */
  failedAttempts: number
  durationMs: number
}

export interface FailedAttempt {
  attempt: number
  /** Entries of the batch still unwritten after this attempt. */
  entries: number
}

interface WorkerSettings {
  flushIntervalMs: number
  idleBlockMs: number
  claimIdleMs: number
  claimEveryMs: number
  depthEveryMs: number
  storeProbeEveryMs: number
  batch: AdaptiveBatchOptions
  retry: BackoffOptions
}

/**
 * Drains the queue into the store: read → buffer → write in one transaction → acknowledge.
 * Acknowledgement always follows commit, so a worker killed at any point leaves its entries pending
 * in the queue, where another worker (or this one, restarted) claims them; the store's idempotency
 * on event id turns that redelivery into exactly one stored row.
 *
 * Reads overlap writes: while a batch is being written, the next one is read and buffered, and at
 * most one write is in flight so acknowledgements stay in order and memory stays bounded.
 */
export class QueueWorker {
  private readonly settings: WorkerSettings
  private readonly sleep: (ms: number) => Promise<void>
  private buffer: QueueEntry[] = []
  /** Entry ids buffered or being written, so claiming our own slow entries does not double them. */
  private held = new Set<string>()
  private oldestBufferedAt = 0
  private writing: Promise<void> | undefined
  private running = false
  private loop: Promise<void> | undefined
  private batchSize: number
  private lastClaimAt = 0
  private lastDepthAt = 0
  private recovering = true

  constructor(private readonly options: QueueWorkerOptions) {
    const defaults = CONFIG_DEFAULTS.worker
    this.settings = {
      flushIntervalMs: options.flushIntervalMs ?? defaults.flushIntervalMs,
      idleBlockMs: options.idleBlockMs ?? defaults.idleBlockMs,
      claimIdleMs: options.claimIdleMs ?? defaults.claimIdleMs,
      claimEveryMs: options.claimEveryMs ?? defaults.claimEveryMs,
      depthEveryMs: options.depthEveryMs ?? defaults.depthEveryMs,
      storeProbeEveryMs: options.storeProbeEveryMs ?? defaults.storeProbeEveryMs,
      batch: options.batch ?? defaults.batch,
      retry: options.retry ?? backoffFromConfig(defaults),
    }
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)))
    this.batchSize = batchSizeFor(0, this.settings.batch)
  }

  get currentBatchSize(): number {
    return this.batchSize
  }

  start(): void {
    if (this.running) return
    this.running = true
    // A restarted worker first reads back what its previous life left pending (see step), and
    // looks for other dead workers' entries at once.
    this.lastClaimAt = -Infinity
    this.loop = this.run()
  }

  /**
   * Stops reading, writes and acknowledges what is buffered, and resolves within `deadlineMs`.
   * Anything still unwritten at the deadline stays pending in the queue — claimed later, not lost.
   */
  async stop(deadlineMs: number): Promise<{ drained: boolean }> {
    this.running = false
    const finished = (this.loop ?? Promise.resolve()).then(() => 'drained' as const)
    const outcome = await withDeadline(finished, deadlineMs)
    if (outcome === undefined) {
      this.options.logger.warn({ buffered: this.buffer.length }, 'worker stop deadline passed; unwritten entries stay pending for another worker')
    }
    return { drained: outcome === 'drained' }
  }

  private async run(): Promise<void> {
    let failures = 0
    let lastLoggedAt = 0
    while (this.running) {
      try {
        await this.step()
        if (failures > 0) this.options.logger.info({ failures }, 'queue reachable again; worker resumed')
        failures = 0
      } catch (error) {
        // Queue errors (Redis down, a failed read) must not kill the worker: wait with backoff and
        // go on. Logged on the first failure and then every 10 s, not on every attempt.
        failures += 1
        if (failures === 1 || Date.now() - lastLoggedAt >= 10_000) {
          lastLoggedAt = Date.now()
          this.options.logger.error({ err_message: (error as Error).message, failures }, 'worker cannot reach the queue; retrying')
        }
        await this.sleep(Math.min(5_000, this.settings.idleBlockMs * 2 ** Math.min(failures - 1, 4)))
      }
    }
    // Shutting down: write what is buffered, then wait for the write in flight.
    if (this.buffer.length > 0) await this.startWrite(this.buffer.splice(0))
    await this.writing
  }

  private async step(): Promise<void> {
    if (this.recovering) {
      // First finish what a previous run under this consumer name left pending.
      const own = await this.options.consumer.recoverOwnPending(this.batchSize)
      if (own.length === 0) this.recovering = false
      this.accept(own)
    }
    const now = Date.now()
    if (now - this.lastClaimAt >= this.settings.claimEveryMs) {
      this.lastClaimAt = now
      this.accept(await this.options.consumer.claimStale(this.settings.claimIdleMs, this.settings.batch.maxSize))
    }
    if (now - this.lastDepthAt >= this.settings.depthEveryMs) {
      this.lastDepthAt = now
      this.batchSize = batchSizeFor(await this.options.consumer.depth(), this.settings.batch)
    }
    const wanted = this.batchSize - this.buffer.length
    if (wanted > 0) {
      const waited = this.buffer.length > 0 ? Date.now() - this.oldestBufferedAt : 0
      const remaining = this.buffer.length > 0 ? this.settings.flushIntervalMs - waited : this.settings.idleBlockMs
      // BLOCK 0 means "forever" to Redis: never pass it.
      if (remaining >= 1) this.accept(await this.options.consumer.read(wanted, Math.min(remaining, this.settings.idleBlockMs)))
    }
    const due = this.buffer.length > 0 && Date.now() - this.oldestBufferedAt >= this.settings.flushIntervalMs
    if (this.buffer.length >= this.batchSize || due) await this.startWrite(this.buffer.splice(0, this.batchSize))
  }

  private accept(entries: QueueEntry[]): void {
    const fresh = entries.filter((entry) => !this.held.has(entry.entryId))
    if (fresh.length === 0) return
    if (this.buffer.length === 0) this.oldestBufferedAt = Date.now()
    for (const entry of fresh) this.held.add(entry.entryId)
    this.buffer.push(...fresh)
  }

  /** Waits for the previous write, then starts this one without waiting for it (reads go on meanwhile). */
  private async startWrite(entries: QueueEntry[]): Promise<void> {
    await this.writing
    if (this.buffer.length > 0) this.oldestBufferedAt = Date.now()
    this.writing = this.write(entries)
      .catch((error: unknown) => {
        // write() only throws if the queue fails while acknowledging; the entries stay pending.
        this.options.logger.error({ err: error, entries: entries.length }, 'acknowledging a written batch failed; entries will be redelivered')
      })
      .finally(() => {
        for (const entry of entries) this.held.delete(entry.entryId)
      })
  }

  private async write(entries: QueueEntry[]): Promise<void> {
    const started = performance.now()
    const report: BatchReport = { size: entries.length, stored: 0, duplicates: 0, deadLettered: 0, failedAttempts: 0, durationMs: 0 }
    // No dead-lettering by delivery count: during a store outage every entry is redelivered many
    // times through no fault of its own. Only the store refusing an event's content condemns it.
    let remaining = entries
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const result = await this.insert(remaining)
      report.stored += result.inserted
      report.duplicates += result.duplicates
      const written: string[] = []
      const rejected = new Map<string, QueueEntry[]>()
      const unavailable: QueueEntry[] = []
      result.outcomes.forEach((outcome, index) => {
        const entry = remaining[index]!
        if (outcome.ok) written.push(entry.entryId)
        else if (outcome.error.code === 'AUDITQ_STORE_REJECTED') {
          const group = rejected.get(outcome.error.message) ?? []
          group.push(entry)
          rejected.set(outcome.error.message, group)
        } else unavailable.push(entry)
      })
      if (written.length > 0) await this.options.consumer.ack(written)
      for (const [error, group] of rejected) {
        // Their producer numbers are recorded first, so the completeness check names them.
        const accounting = await recordDeadLetters(this.options.store, eventsOf(group), error, this.options.logger)
        if (accounting === 'unavailable') unavailable.push(...group)
        else report.deadLettered += await this.options.consumer.deadLetter(group, error)
      }
      remaining = unavailable
      if (remaining.length === 0) break
      report.failedAttempts += 1
      this.options.onFailedAttempt?.({ attempt, entries: remaining.length })
      // Past the configured attempts the batch is a counted failure, but never dropped: the store
      // being down is not the events' fault, so keep waiting (capped) while the worker is running.
      const delay = backoffDelayMs(attempt, this.settings.retry)
      this.options.logger.warn(
        { attempt, entries: remaining.length, retry_in_ms: delay, exhausted: attempt >= this.settings.retry.attempts },
        'store unavailable; batch will be retried',
      )
      if (!this.running) {
        // Shutting down: waiting out the store would overrun the stop deadline. The entries stay
        // pending in the queue and another worker (or this one, restarted) writes them.
        this.options.logger.warn({ entries: remaining.length }, 'stopping with an unwritten batch; it stays pending for another worker')
        break
      }
      await this.waitOutStore(delay)
    }
    report.durationMs = performance.now() - started
    this.options.onBatch?.(report)
  }

  /**
   * The store's own form when it has one: each entry's prepared event (the producer's, or for an
   * entry an older producer wrote, computed here) passes through without being parsed or rebuilt.
   */
  private insert(entries: QueueEntry[]): Promise<IsolatingInsertReport> {
    const { store } = this.options
    // An entry that cannot be written is refused by itself (dead-lettered with the reason), the
    // others written: the isolation splits the batch around it as around a row the store refuses.
    const classifyError = (error: unknown) => (error instanceof RefusedEntryError ? 'data' : store.classifyError(error))
    if (store.insertPrepared) {
      const prepared = entries.map(preparedOf)
      if (prepared.every((item) => !(item instanceof RefusedEntryError))) return isolating(store, prepared as PreparedEvent[], (slice) => store.insertPrepared!(slice))
      return isolating({ classifyError }, prepared, async (slice) => {
        const refused = slice.find((item) => item instanceof RefusedEntryError)
        if (refused) throw refused
        return store.insertPrepared!(slice as PreparedEvent[])
      })
    }
    const events = entries.map((entry) => entry.event)
    if (events.every((event) => event !== null)) return insertIsolating(store, events as AuditEvent[])
    // Only a forged entry's canonical form fails to parse: refused by itself, the others written.
    return isolating({ classifyError }, events, async (slice) => {
      if (slice.some((event) => event === null)) throw new RefusedEntryError('canonical: not valid JSON')
      return store.insertBatch(slice as AuditEvent[])
    })
  }

  /**
   * Sleeps up to `delayMs` (the backoff), pinging the store every `storeProbeEveryMs` meanwhile.
   * The backoff protects a struggling store from retries, but once it has grown (up to
   * `retryMaxDelayMs`) it also kept the worker asleep for tens of seconds after the store was back.
   * A ping is one cheap round trip, so the wait ends as soon as the store answers *after having
   * failed a ping*: a store that answers pings all along but refuses the insert (a locked table,
   * statements timing out) is not "back", and still gets the whole backoff between attempts.
   */
  private async waitOutStore(delayMs: number): Promise<void> {
    let sawItDown = false
    // Counted in slept time rather than the wall clock, so an injected sleep behaves the same.
    for (let left = delayMs; left > 0 && this.running; ) {
      const step = Math.min(left, this.settings.storeProbeEveryMs)
      await this.sleep(step)
      left -= step
      if (left <= 0 || !this.running) return
      // Bounded: a ping into a black-holed network must not stretch the wait past one probe interval.
      const answered = await answersWithin(this.options.store, this.settings.storeProbeEveryMs)
      if (!answered) sawItDown = true
      else if (sawItDown) {
        this.options.logger.info({ waited_ms: delayMs - left, backoff_ms: delayMs }, 'store answers again; retrying the batch now')
        return
      }
    }
  }

}

class RefusedEntryError extends Error {
  override readonly name = 'RefusedEntryError'
  constructor(reason: string) {
    super(`refused queue entry: ${reason}`)
  }
}

/**
 * The entry's prepared event: the producer's, or for an entry an older producer wrote (the event's
 * JSON, checked only for its shape on delivery), computed here. Its canonical form can fail (a
 * timestamp no date parses, say); that entry is refused, not the batch it came in.
 */
function preparedOf(entry: QueueEntry): PreparedEvent | RefusedEntryError {
  if (entry.prepared) return entry.prepared
  if (entry.event === null) return new RefusedEntryError('canonical: not valid JSON')
  try {
    return prepareEvent(entry.event)
  } catch (error) {
    return new RefusedEntryError(`event: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** The entries' events, leaving out any whose canonical form does not parse (they carry no producer numbers to record). */
function eventsOf(entries: readonly QueueEntry[]): AuditEvent[] {
  const events: AuditEvent[] = []
  for (const entry of entries) if (entry.event !== null) events.push(entry.event)
  return events
}

/** Whether the store answers a ping within `ms`; never rejects, leaves no timer behind. */
async function answersWithin(store: Store, ms: number): Promise<boolean> {
  return (await withDeadline(store.ping().then(() => true), ms)) ?? false
}
