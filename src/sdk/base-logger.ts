import { CONFIG_DEFAULTS } from '../config.js'
import { AuditqError } from '../errors.js'
import { Intake, type BulkResult, type EventOutcome } from '../event/intake.js'
import { redactionPolicy } from '../event/redact.js'
import type { AuditEvent, AuditEventInput } from '../event/types.js'
import type { Shredder } from '../shred/shredder.js'
import { shredderOf } from '../store/shredding-store.js'
import type { Store } from '../store/store.js'
import { createLogger, type Logger } from '../util/logger.js'
import { GroupCommitter } from './group-commit.js'
import { Producer } from './producer.js'
import { LoggerStats, type LoggerStatsSnapshot } from './stats.js'
import type { AuditLogger, AuditLoggerOptions, BulkOptions } from './types.js'


/**
 * Everything the SDK's loggers share — the intake (validation, tenant, reserved actions, redaction,
 * bulk outcomes), detached logging, shutdown order. A mode supplies only where accepted events go
 * (`route`) and how it drains (`shutdown`).
 */
export abstract class BaseAuditLogger implements AuditLogger {
  protected readonly counters = new LoggerStats()
  protected readonly log_: Logger
  private readonly now: () => Date
  private readonly observeLogSeconds: ((seconds: number) => void) | undefined
  private readonly intake: Intake
  private readonly detached = new Set<Promise<unknown>>()
  /** Accepted events on their way (awaiting Redis or a commit); close() waits for them before shutting down. */
  private readonly routing = new Set<Promise<unknown>>()
  private closing: Promise<void> | undefined
  /** Numbers events (when enabled) and accounts for refused numbered events. */
  readonly producer: Producer | null
  private readonly accountingTenant: string
  private readonly headTimer: NodeJS.Timeout | undefined
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined

  constructor(
    readonly store: Store,
    options: AuditLoggerOptions,
  ) {
    this.log_ = options.logger ?? createLogger({ level: 'warn', name: 'auditq-sdk' })
    this.now = options.now ?? (() => new Date())
    this.observeLogSeconds = options.observeLogSeconds
    this.intake = new Intake({
      defaultTenant: options.defaultTenant ?? CONFIG_DEFAULTS.defaultTenant,
      redaction: redactionPolicy(options.redaction),
      onInvalid: (rule, input) => {
        this.counters.recordInvalid(rule)
        this.refused(input, rule)
      },
      onAccepted: (report) => {
        this.counters.redacted += report.redactedValues
        if (report.ipTruncated) this.counters.ipTruncated += 1
        this.counters.accepted += 1
      },
    })
    this.accountingTenant = options.defaultTenant ?? CONFIG_DEFAULTS.defaultTenant
    const producer = options.producer
    this.producer = new Producer(typeof producer === 'object' ? producer : { numbering: producer === true })
    if (this.producer.numbering) {
      this.headTimer = setInterval(() => void this.flushAccounting(false), options.producerHeadIntervalMs ?? CONFIG_DEFAULTS.completeness.headIntervalMs)
      this.headTimer.unref()
    }
  }

  /**
   * Sends validated events on their way; resolves with one outcome per event once each is durably
   * accepted or refused. Critical events (`isCritical`) must reach the store before it resolves.
   */
  protected abstract route(events: AuditEvent[]): Promise<EventOutcome[]>
  /** Waits for everything accepted to be durable and releases resources; called once. */
  protected abstract shutdown(): Promise<void>
  /** This process's group commit (every event in direct mode, critical events in queue mode): the source of the pending figures. */
  protected abstract readonly committer: GroupCommitter

  async log(event: AuditEventInput): Promise<string> {
    return this.logOne(event)
  }

  async logCritical(event: AuditEventInput): Promise<string> {
    return this.logOne({ ...event, category: 'critical' })
  }

  async logBulk(inputs: readonly unknown[], options: BulkOptions = {}): Promise<BulkResult> {
    this.assertOpen()
    const call = { receivedAt: options.receivedAt ?? this.now(), ...(options.boundTenant === undefined ? {} : { boundTenant: options.boundTenant }) }
    const numbered = this.producer ? inputs.map((input) => this.producer!.number(input)) : inputs
    return this.intake.bulk(numbered, call, (events) => this.dispatch(events))
  }

  logDetached(event: AuditEventInput): void {
    const pending = this.logOne(event).catch((error: unknown) => {
      this.counters.detachedFailures += 1
      const { code, message } = error instanceof AuditqError ? error : { code: 'AUDITQ_INTERNAL', message: String(error) }
      this.log_.error({ code, action: safeAction(event), err_message: message }, 'detached audit event not stored')
    })
    this.detached.add(pending)
    void pending.finally(() => this.detached.delete(pending))
  }

  stats(): LoggerStatsSnapshot {
    const since = this.committer.oldestWaitingSince
    return this.counters.snapshot(this.committer.pendingCount, since === null ? null : Math.max(0, Date.now() - since), this.committer.inFlightCount)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Events already accepted finish their route (queue, spill or store) before anything closes:
      // otherwise an overflow arriving during shutdown would find the spill journal already shut.
      await Promise.allSettled([...this.routing, ...this.detached])
      // The final head record (and any refusals not yet recorded) goes the way every event went.
      clearInterval(this.headTimer)
      clearTimeout(this.flushTimer)
      await this.flushing
      await this.flushAccounting(true)
      await this.shutdown()
    })()
    return this.closing
  }

  /** The group commit every mode writes through, counted in `stats()` and reported to `observeCommit`. */
  protected createCommitter(options: AuditLoggerOptions): GroupCommitter {
    return new GroupCommitter(this.store, {
      // Unset keys take the `groupCommit` defaults (src/config/intake.ts): a lone event commits at once (no linger).
      ...CONFIG_DEFAULTS.groupCommit,
      ...options.groupCommit,
      maxInFlight: this.store.parallelWrites ? (options.groupCommit?.maxInFlight ?? CONFIG_DEFAULTS.groupCommit.maxInFlight) : 1,
      onCommit: (report) => {
        this.counters.recordCommit(report)
        options.observeCommit?.(report)
      },
    })
  }

  private async logOne(input: AuditEventInput): Promise<string> {
    this.assertOpen()
    const numbered = this.producer ? this.producer.number(input) : input
    return this.intake.one(numbered, { receivedAt: this.now() }, async (events) => {
      const started = this.observeLogSeconds ? performance.now() : 0
      const outcomes = await this.dispatch(events)
      if (this.observeLogSeconds) this.observeLogSeconds((performance.now() - started) / 1000)
      return outcomes
    })
  }

  private dispatch(events: AuditEvent[]): Promise<EventOutcome[]> {
    const shredder = shredderOf(this.store)
    const routed = shredder && events.length > 0 ? this.sealThenRoute(shredder, events) : this.route(events)
    this.routing.add(routed)
    void routed.finally(() => this.routing.delete(routed)).catch(() => undefined)
    // An event refused on its way (the store refused it, or it could not be queued) will never be
    // stored under its number: account for it, so the number is not reported missing.
    void routed.then(
      (outcomes) => outcomes.forEach((outcome, i) => outcome.ok || this.refused(events[i], outcome.error.code)),
      () => events.forEach((event) => this.refused(event, 'AUDITQ_INTERNAL')),
    )
    return routed
  }

  /**
   * Seals personal values at the edge, after validation and redaction: the queue, the spill journal,
   * the worker and the store only ever see ciphertext. A seal that fails (the key table unreachable,
   * a wrong master key) fails its events; nothing is ever routed unsealed.
   */
  private async sealThenRoute(shredder: Shredder, events: AuditEvent[]): Promise<EventOutcome[]> {
    let sealed: AuditEvent[]
    try {
      sealed = await shredder.seal(events)
    } catch (cause) {
      const error =
        cause instanceof AuditqError
          ? cause
          : this.store.classifyError(cause) === 'transient'
            ? new AuditqError('AUDITQ_STORE_UNAVAILABLE', `subject keys unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
            : new AuditqError('AUDITQ_INTERNAL', 'sealing personal fields failed', { cause })
      return events.map(() => ({ ok: false, error }))
    }
    return this.route(sealed)
  }

  private refused(input: unknown, rule: string): void {
    if (!this.producer) return
    this.producer.refused(input, rule)
    if (this.producer.hasUnaccounted && !this.flushTimer && !this.closing) {
      // Soon, not at once: a burst of refusals goes in one record.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined
        void this.flushAccounting(false)
      }, 1_000)
      this.flushTimer.unref()
    }
  }

  /**
   * Writes the producer's due accounting records through the same route as events. One at a time;
   * refusals stay remembered until their record was accepted. Never throws: a failure is logged
   * and retried at the next interval (or is visible as missing numbers if the process ends first).
   */
  protected flushAccounting(final: boolean): Promise<void> {
    const producer = this.producer
    if (!producer) return Promise.resolve()
    const run = async (): Promise<void> => {
      const unsettled = this.stats().spill?.events ?? 0
      const { events, settle } = producer.accounting(this.accountingTenant, this.now(), { final, unsettled })
      if (events.length === 0) return
      try {
        const outcomes = await this.dispatch(events)
        const ok = outcomes.every((outcome) => outcome.ok)
        settle(ok)
        if (!ok) this.log_.warn({ producer_id: producer.id }, 'producer accounting record not accepted; retrying at the next interval')
      } catch (error) {
        settle(false)
        this.log_.warn({ producer_id: producer.id, err_message: (error as Error).message }, 'producer accounting record not accepted; retrying at the next interval')
      }
    }
    const next = (this.flushing ?? Promise.resolve()).then(run)
    this.flushing = next
    return next
  }

  private assertOpen(): void {
    if (this.closing) throw new AuditqError('AUDITQ_CLOSED', 'the audit logger is closed')
  }
}

function safeAction(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined
  const action = (event as { action?: unknown }).action
  return typeof action === 'string' ? action.slice(0, 128) : undefined
}
