/**
 * Records access to the trail as chained `auditq.*` events, written straight to the store (the
 * path critical events take) so the record is durable before the access proceeds.
 *
 * Failure policy (docs/decisions.md, "Recording access to the trail"): a read whose record cannot
 * be written is refused (`AUDITQ_ACCESS_UNRECORDED`, 503) — no unrecorded access to audit logs.
 * An aggregate of repeated reads that cannot be written stays pending and is retried at the next
 * sweep; every failure is counted, logged at warn and shown in health.
 *
 * Aggregation: the first read of a kind (same who, from where, tenant and filter) is written at
 * once and opens a window of `windowMs`; identical reads inside the window are only counted, and
 * when it closes one event carries their count and first/last time. A dashboard polling every 2 s
 * with a 60 s window writes at most two events a minute, not thirty.
 */
import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'
import type { Logger } from '../util/logger.js'
import { accessEvent, isRead, readIdentity, type AccessRecord, type Aggregate } from './access-event.js'

export interface AccessRecorderOptions {
  /** Writes chained events durably (the store's insertBatch). */
  write(events: AuditEvent[]): Promise<unknown>
  /** Identical reads within this window become one aggregate event; 0 writes every read. */
  windowMs: number
  /** Tenant whose chain records every access (and auditq's own lifecycle). */
  systemTenant: string
  logger: Logger
  /**
   * Is this write failure the store being unreachable? Such an error is passed on as it is (the
   * caller answers it like its own read failing: 503 AUDITQ_STORE_UNAVAILABLE); any other
   * failure becomes AUDITQ_ACCESS_UNRECORDED.
   */
  isStoreUnavailable?: (error: unknown) => boolean
  /** Test seam for the clock. */
  now?: () => number
}

export interface AccessRecorderStats {
  recorded: number
  /** Reads folded into an aggregate instead of written one by one. */
  aggregated: number
  /** Writes that failed: a refused read, a lifecycle step, or an aggregate (retried). */
  failed: number
  /** Aggregates waiting to be written (including ones whose write failed and will be retried). */
  pending: number
  /** Set while recording fails: when the current run of failures began, and the last error; cleared by the next good write. */
  failing: { since: string; message: string } | null
}

interface Window {
  record: AccessRecord
  opened: number
  repeats: number
  firstRepeat: number
  lastRepeat: number
}

/** Beyond this many open windows a read is written on its own: memory stays bounded, nothing is dropped. */
const MAX_WINDOWS = 10_000

export class AccessRecorder {
  private readonly windows = new Map<string, Window>()
  /** Windows that have run out with repeats not yet written: only the sweep writes (and retries) them. */
  private closing: Window[] = []
  private readonly counts = { recorded: 0, aggregated: 0, failed: 0 }
  private failing: AccessRecorderStats['failing'] = null
  private readonly timer: NodeJS.Timeout | undefined
  private sweeping: Promise<void> = Promise.resolve()
  private closed = false

  constructor(private readonly options: AccessRecorderOptions) {
    if (options.windowMs > 0) {
      this.timer = setInterval(() => void this.sweep(), Math.max(250, Math.floor(options.windowMs / 4)))
      this.timer.unref()
    }
  }

  /**
   * Records one access; resolves once its event is stored (or folded into an open window).
   * Throws `AUDITQ_ACCESS_UNRECORDED` when the store refuses: the caller must not proceed.
   */
  async record(record: AccessRecord): Promise<void> {
    const now = this.now()
    if (isRead(record.kind) && this.options.windowMs > 0 && !this.closed) {
      const identity = readIdentity(record)
      const open = this.windows.get(identity)
      if (open && now - open.opened < this.options.windowMs) {
        if (open.repeats === 0) open.firstRepeat = now
        open.repeats += 1
        open.lastRepeat = now
        this.counts.aggregated += 1
        return
      }
      // A window that has run out is replaced at once, its repeats handed to the sweep: until the
      // sweep came round, every read would otherwise be written on its own, and a feed follower
      // (whose reads return the records they cause) would spin on its own records in that gap.
      if (open) this.retire(identity, open)
      await this.write([accessEvent(record, { systemTenant: this.options.systemTenant, now: new Date(now) })], record)
      if (this.windows.size < MAX_WINDOWS) this.windows.set(identity, { record, opened: now, repeats: 0, firstRepeat: 0, lastRepeat: 0 })
      return
    }
    await this.write([accessEvent(record, { systemTenant: this.options.systemTenant, now: new Date(now) })], record)
  }

  /**
   * Records without letting a failure escape, for steps that must go on regardless (auditq's own
   * stop, a queue overflow): the failure is counted, logged and shown in health by `record`'s caller.
   */
  async recordOrWarn(record: AccessRecord): Promise<boolean> {
    try {
      await this.record(record)
      return true
    } catch {
      return false
    }
  }

  /**
   * The event `record` is written as, dated `at`: for records written later than what they record
   * happened (a pause that began while the store was unreachable).
   */
  eventFor(record: AccessRecord, at: number, aggregate?: Aggregate): AuditEvent {
    return accessEvent(record, { systemTenant: this.options.systemTenant, now: new Date(at), ...(aggregate ? { aggregate } : {}) })
  }

  /** Writes events made by `eventFor`, in one batch; counts, logs and throws like `record`. */
  async writeEvents(events: AuditEvent[], record: AccessRecord): Promise<void> {
    await this.write(events, record)
  }

  stats(): AccessRecorderStats {
    let pending = this.closing.length
    for (const window of this.windows.values()) if (window.repeats > 0) pending += 1
    return { ...this.counts, pending, failing: this.failing }
  }

  /** Writes every aggregate, closed window or not (on shutdown, and in tests). */
  async flush(): Promise<void> {
    await this.sweep({ all: true })
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    await this.flush()
  }

  /** Takes a window out of the open ones; its repeats, if any, wait for the sweep to be written. */
  private retire(identity: string, window: Window): void {
    this.windows.delete(identity)
    if (window.repeats > 0) this.closing.push(window)
  }

  /**
   * Retires the windows that have run out (all of them with `all`), then writes the aggregates of
   * the retired ones in the order they closed; a failed write keeps its window for the next sweep.
   */
  private sweep(options: { all?: boolean } = {}): Promise<void> {
    this.sweeping = this.sweeping.then(async () => {
      const now = this.now()
      for (const [identity, window] of [...this.windows]) {
        if (options.all || now - window.opened >= this.options.windowMs) this.retire(identity, window)
      }
      const waiting = this.closing
      this.closing = []
      const failed: Window[] = []
      for (const window of waiting) {
        const aggregate = {
          count: window.repeats,
          first_at: new Date(window.firstRepeat).toISOString(),
          last_at: new Date(window.lastRepeat).toISOString(),
          window_ms: this.options.windowMs,
        }
        const event = accessEvent(window.record, { systemTenant: this.options.systemTenant, now: new Date(now), aggregate })
        try {
          await this.write([event], window.record)
        } catch {
          // Counted and logged by write(); the aggregate is retried at the next sweep.
          failed.push(window)
        }
      }
      this.closing = [...failed, ...this.closing]
    })
    return this.sweeping
  }

  private async write(events: AuditEvent[], record: AccessRecord): Promise<void> {
    try {
      await this.options.write(events)
      this.counts.recorded += events.length
      this.failing = null
    } catch (error) {
      this.counts.failed += 1
      this.failing = { since: this.failing?.since ?? new Date(this.now()).toISOString(), message: (error as Error).message?.slice(0, 200) ?? String(error) }
      this.options.logger.warn({ err: error, access: record.kind, tenant_id: record.tenant }, 'access to the audit trail could not be recorded')
      if (this.options.isStoreUnavailable?.(error)) throw error
      throw new AuditqError('AUDITQ_ACCESS_UNRECORDED', `the access (${record.kind}) could not be recorded in the audit trail, so it was refused; retry later`, { cause: error })
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }
}
