import type { AuditEvent } from '../event/types.js'
import { insertIsolating, type EventOutcome } from '../store/isolating-insert.js'
import type { Store } from '../store/store.js'

export type { EventOutcome }

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
  /** Date.now() at submit, for the oldest-unstored-event gauge. */
  at: number
}

/**
 * Group commit: while one transaction is in flight, every event that arrives waits in `pending`;
 * when it returns, everything pending (up to `maxBatchEvents`) goes in the next transaction. A lone
 * caller pays one round trip; 200 concurrent callers share a handful. `urgent` submissions skip the
 * optional linger so a critical event is never held back by `maxWaitMs`.
 *
 * A refused event is isolated from its batch-mates by `insertIsolating`; each caller learns the
 * outcome of its own events.
 */
export class GroupCommitter {
  private pending: Waiter[] = []
  private flushing = false
  private lingerTimer: NodeJS.Timeout | undefined
  private idleWaiters: (() => void)[] = []
  /** Submit time of the oldest event of the batch being committed. */
  private inFlightSince: number | null = null
  private inFlight = 0

  constructor(
    private readonly store: Store,
    private readonly options: GroupCommitOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.length
  }

  /** Events in the commit running now. */
  get inFlightCount(): number {
    return this.inFlight
  }

  /** When the oldest event not yet committed (in flight or waiting) was submitted; null when none. */
  get oldestWaitingSince(): number | null {
    return this.inFlightSince ?? this.pending[0]?.at ?? null
  }

  submit(events: readonly AuditEvent[], submitOptions: { urgent?: boolean } = {}): Promise<EventOutcome[]> {
    if (events.length === 0) return Promise.resolve([])
    const at = Date.now()
    const outcomes = events.map(
      (event) => new Promise<EventOutcome>((settle) => this.pending.push({ event, settle, at })),
    )
    this.schedule({ urgent: submitOptions.urgent === true })
    return Promise.all(outcomes)
  }

  /** Resolves once nothing is pending or in flight. */
  drain(): Promise<void> {
    if (!this.flushing && this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private schedule({ urgent }: { urgent: boolean }): void {
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
    this.inFlightSince = batch[0]?.at ?? null
    this.inFlight = batch.length
    const report = await insertIsolating(this.store, batch.map((waiter) => waiter.event)).finally(() => {
      this.inFlightSince = null
      this.inFlight = 0
    })
    report.outcomes.forEach((outcome, index) => batch[index]!.settle(outcome))
    this.options.onCommit?.({
      events: batch.length,
      inserted: report.inserted,
      duplicates: report.duplicates,
      failed: report.outcomes.filter((outcome) => !outcome.ok).length,
      durationMs: performance.now() - started,
    })
  }
}
