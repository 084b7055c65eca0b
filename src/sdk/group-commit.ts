import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'
import type { Store } from '../store/store.js'

/** What happened to one submitted event: stored (or already stored), or the error that kept it out. */
export type EventOutcome = { ok: true } | { ok: false; error: AuditqError }

export interface GroupCommitOptions {
  maxBatchEvents: number
  maxWaitMs: number
  /** Called after every commit attempt, for metrics. */
  onCommit?: (report: CommitReport) => void
}

export interface CommitReport {
  events: number
  inserted: number
  duplicates: number
  failed: number
  durationMs: number
}

interface Waiter {
  event: AuditEvent
  settle: (outcome: EventOutcome) => void
}

/**
 * Group commit: while one transaction is in flight, every event that arrives waits in `pending`;
 * when it returns, everything pending (up to `maxBatchEvents`) goes in the next transaction. A lone
 * caller pays one round trip; 200 concurrent callers share a handful. `urgent` submissions skip the
 * optional linger so a critical event is never held back by `maxWaitMs`.
 *
 * Failure isolation: if the store refuses a batch because of its *content* (`data` errors), the
 * batch is bisected until the offending events stand alone, so one bad event never takes its
 * neighbours down with it. Connection-level (`transient`) failures fail the whole batch at once —
 * splitting cannot help, and the caller learns quickly that nothing was stored.
 */
export class GroupCommitter {
  private pending: Waiter[] = []
  private flushing = false
  private lingerTimer: NodeJS.Timeout | undefined
  private idleWaiters: (() => void)[] = []

  constructor(
    private readonly store: Store,
    private readonly options: GroupCommitOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.length
  }

  submit(events: readonly AuditEvent[], submitOptions: { urgent?: boolean } = {}): Promise<EventOutcome[]> {
    if (events.length === 0) return Promise.resolve([])
    const outcomes = events.map(
      (event) => new Promise<EventOutcome>((settle) => this.pending.push({ event, settle })),
    )
    this.schedule(submitOptions.urgent === true)
    return Promise.all(outcomes)
  }

  /** Resolves once nothing is pending or in flight. */
  drain(): Promise<void> {
    if (!this.flushing && this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private schedule(urgent: boolean): void {
    if (this.flushing) return
    const full = this.pending.length >= this.options.maxBatchEvents
    if (urgent || full || this.options.maxWaitMs === 0) {
      if (this.lingerTimer) clearTimeout(this.lingerTimer)
      this.lingerTimer = undefined
      // setImmediate lets every caller of the current tick join the first batch.
      this.flushing = true
      setImmediate(() => void this.flushLoop())
      return
    }
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined
      if (this.flushing) return
      this.flushing = true
      void this.flushLoop()
    }, this.options.maxWaitMs)
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.options.maxBatchEvents)
        await this.commit(batch)
      }
    } finally {
      this.flushing = false
      for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
  }

  private async commit(batch: Waiter[]): Promise<void> {
    const started = performance.now()
    let inserted = 0
    let duplicates = 0
    let failed = 0
    const insert = async (part: Waiter[]): Promise<void> => {
      try {
        const result = await this.store.insertBatch(part.map((waiter) => waiter.event))
        inserted += result.inserted
        duplicates += result.duplicates
        for (const waiter of part) waiter.settle({ ok: true })
      } catch (error) {
        if (this.store.classifyError(error) === 'data' && part.length > 1) {
          const middle = Math.ceil(part.length / 2)
          await insert(part.slice(0, middle))
          await insert(part.slice(middle))
          return
        }
        failed += part.length
        const outcome = { ok: false as const, error: toStoreError(this.store, error) }
        for (const waiter of part) waiter.settle(outcome)
      }
    }
    await insert(batch)
    this.options.onCommit?.({
      events: batch.length,
      inserted,
      duplicates,
      failed,
      durationMs: performance.now() - started,
    })
  }
}

function toStoreError(store: Store, error: unknown): AuditqError {
  const reason = error instanceof Error ? error.message : String(error)
  return store.classifyError(error) === 'data'
    ? new AuditqError('AUDITQ_STORE_REJECTED', `the store refused this event: ${reason}`, { cause: error })
    : new AuditqError('AUDITQ_STORE_UNAVAILABLE', `the store is unavailable, event not stored: ${reason}`, { cause: error })
}
