import type { AuditEvent } from '../event/types.js'
import { AuditqError } from '../errors.js'
import { insertIsolating, type BatchInserter, type EventOutcome, type IsolatingInsertReport } from '../store/isolating-insert.js'

export type { EventOutcome }

export interface GroupCommitOptions {
  maxBatchEvents: number
  maxWaitMs: number
  /** Commits in flight at once (1 = strictly one after the other). */
  maxInFlight?: number
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
  /** The first event of its `submit` call: where a batch may be cut without splitting a call. */
  first: boolean
}

/**
 * Group commit: events that arrive while commits are in flight wait in `pending`; when a commit
 * slot is free, everything pending (up to `maxBatchEvents`) goes in the next transaction. A lone
 * caller pays one round trip; 200 concurrent callers share a handful. `urgent` submissions skip
 * the optional linger so a critical event is never held back by `maxWaitMs`.
 *
 * Why more than one commit in flight (`maxInFlight`): with one, the process prepares a batch
 * while the database idles, then the database inserts it while the process idles, and half of a
 * 2-core machine stayed unused (docs/decisions.md, "Direct mode: where it waits, and two commits in flight").
 * With two, a batch that arrives while another is being written starts at once; PostgreSQL runs
 * both inserts side by side and serializes them only on the tenant's chain head. Events of one
 * `submit` go in one commit whenever they fit in one batch; a call larger than a batch is split
 * into consecutive commits that never run side by side, so its events keep their order in the
 * chain. The order between concurrent callers was never defined.
 *
 * A refused event is isolated from its batch-mates by `insertIsolating`; each caller learns the
 * outcome of its own events.
 */
export class GroupCommitter {
  private pending: Waiter[] = []
  private lingerTimer: NodeJS.Timeout | undefined
  /** A flush is scheduled (setImmediate) and has not run yet. */
  private flushQueued = false
  private idleWaiters: (() => void)[] = []
  /** The commits in flight, each with the submit time of its oldest event and its size. */
  private readonly inFlight = new Set<{ since: number; events: number }>()
  private readonly maxInFlight: number

  constructor(
    private readonly store: BatchInserter,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1)
  }

  get pendingCount(): number {
    return this.pending.length
  }

  /** Events in the commits running now. */
  get inFlightCount(): number {
    let events = 0
    for (const commit of this.inFlight) events += commit.events
    return events
  }

  /** When the oldest event not yet committed (in flight or waiting) was submitted; null when none. */
  get oldestWaitingSince(): number | null {
    let oldest: number | null = this.pending[0]?.at ?? null
    for (const commit of this.inFlight) if (oldest === null || commit.since < oldest) oldest = commit.since
    return oldest
  }

  submit(events: readonly AuditEvent[], submitOptions: { urgent?: boolean } = {}): Promise<EventOutcome[]> {
    if (events.length === 0) return Promise.resolve([])
    const at = Date.now()
    const outcomes = events.map(
      (event, index) => new Promise<EventOutcome>((settle) => this.pending.push({ event, settle, at, first: index === 0 })),
    )
    this.schedule({ urgent: submitOptions.urgent === true })
    return Promise.all(outcomes)
  }

  /** Resolves once nothing is pending or in flight. */
  drain(): Promise<void> {
    if (this.idle) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private get idle(): boolean {
    return this.inFlight.size === 0 && this.pending.length === 0 && !this.flushQueued
  }

  private schedule({ urgent }: { urgent: boolean }): void {
    if (this.flushQueued || this.inFlight.size >= this.maxInFlight || this.pending.length === 0) return
    // With a commit already in flight there is nothing to linger for: the batch it makes wait is
    // company enough.
    const full = this.pending.length >= this.options.maxBatchEvents
    if (urgent || full || this.options.maxWaitMs === 0 || this.inFlight.size > 0) {
      if (this.lingerTimer) clearTimeout(this.lingerTimer)
      this.lingerTimer = undefined
      // setImmediate lets every caller of the current tick join the batch.
      this.flushQueued = true
      setImmediate(() => {
        this.flushQueued = false
        this.startCommits()
      })
      return
    }
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined
      this.startCommits()
    }, this.options.maxWaitMs)
  }

  /**
   * Starts commits while slots are free, each taking everything pending up to `maxBatchEvents`.
   * Not shared out between free slots: halving a batch to fill both made each commit cost more
   * per event (per-statement work, contention on the same index pages), and at 16 callers direct
   * mode ran about 30 % slower that way (bench/direct-waits.ts, docs/decisions.md).
   */
  private startCommits(): void {
    while (this.pending.length > 0 && this.inFlight.size < this.maxInFlight) {
      // The rest of a split call waits for its first part, so the two cannot swap places in the chain.
      if (this.inFlight.size > 0 && !this.pending[0]!.first) break
      const batch = this.pending.splice(0, batchEnd(this.pending, this.options.maxBatchEvents))
      void this.commit(batch)
    }
    if (this.idle) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  private async commit(batch: Waiter[]): Promise<void> {
    const started = performance.now()
    const slot = { since: batch[0]!.at, events: batch.length }
    this.inFlight.add(slot)
    let report: IsolatingInsertReport
    try {
      report = await insertIsolating(this.store, batch.map((waiter) => waiter.event))
    } catch (error) {
      // insertIsolating turns the store's failures into outcomes; anything else is a bug, but the
      // callers must still hear about it rather than wait forever.
      const failed = error instanceof AuditqError ? error : new AuditqError('AUDITQ_INTERNAL', `commit failed: ${String(error)}`, { cause: error })
      report = { outcomes: batch.map(() => ({ ok: false as const, error: failed })), inserted: 0, duplicates: 0, attempts: 1 }
    } finally {
      this.inFlight.delete(slot)
    }
    report.outcomes.forEach((outcome, index) => batch[index]!.settle(outcome))
    this.options.onCommit?.({
      events: batch.length,
      inserted: report.inserted,
      duplicates: report.duplicates,
      failed: report.outcomes.filter((outcome) => !outcome.ok).length,
      durationMs: performance.now() - started,
    })
    // Whatever arrived meanwhile goes next, without waiting for another submit.
    this.startCommits()
  }
}

/**
 * How many of `pending` the next commit takes: all of it up to `max`; past that, up to the start of
 * the call that straddles `max`, so that one call's events stay in one commit. Only a call larger
 * than `max` by itself is split (in order, across consecutive commits).
 */
function batchEnd(pending: readonly Waiter[], max: number): number {
  if (pending.length <= max) return pending.length
  let cut = max
  while (cut > 0 && !pending[cut]!.first) cut--
  return cut > 0 ? cut : max
}
