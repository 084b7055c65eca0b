import { AuditqError } from '../errors.js'
import type { AuditEvent, AuditEventInput, FieldError, ValidationResult } from '../event/types.js'
import { redactEvent, redactionPolicy, type RedactionOptions, type RedactionPolicy } from '../event/redact.js'
import { validateEvent } from '../event/validate.js'
import { openStore } from '../store/open-store.js'
import type { EmbeddedDriverSetting } from '../store/embedded/sqlite-driver.js'
import type { Store } from '../store/store.js'
import { RETENTION_ACTION } from '../integrity/chain-walker.js'
import { createLogger, type Logger } from '../util/logger.js'
import type { EventOutcome } from '../store/isolating-insert.js'
import type { CommitReport, GroupCommitter } from './group-commit.js'
import type { QueueModeOptions } from './queued-logger.js'
import { LoggerStats, type LoggerStatsSnapshot } from './stats.js'

export interface AuditLoggerOptions {
  /** postgres://… for PostgreSQL; omit for the embedded file store under `dataDir`. */
  databaseUrl?: string
  /** PostgreSQL schema for auditq's tables (default public). */
  databaseSchema?: string
  /** Embedded store location (default `./.auditq`). */
  dataDir?: string
  /** The embedded store's SQLite driver (default AUDITQ_EMBEDDED_DRIVER, else `auto`; see the README). */
  embeddedDriver?: EmbeddedDriverSetting
  /** redis://… enables queue mode: `log()` resolves once Redis holds the event; workers store it. */
  redisUrl?: string
  /** Queue-mode settings (cap, overflow policy, spill journal); setting this also enables queue mode. */
  queue?: QueueModeOptions
  /** Use an already-open store instead (the logger will not close it). */
  store?: Store
  defaultTenant?: string
  groupCommit?: { maxBatchEvents?: number; maxWaitMs?: number }
  /** pino logger for failures of `logDetached` and shutdown; defaults to JSON on stderr at warn. */
  logger?: Logger
  /**
   * Applied to every event before it is queued or stored: metadata keys naming secrets become
   * "[REDACTED]" (default list: password, passwd, secret, token, api_key, authorization, cookie,
   * credit_card, ssn), and IPs optionally keep only their network. `{ keys: [] }` turns redaction off.
   */
  redaction?: RedactionOptions
  /** Injected clock for tests; stamps `received_at`. */
  now?: () => Date
  /**
   * Called once per `log`/`logCritical` when it settles, with its duration; the service feeds a
   * Prometheus histogram with it. Plain callback: the SDK has no metrics dependency.
   */
  observeLogSeconds?: (seconds: number) => void
  /** Called after every group commit with its report (batch size, duration), for metrics. */
  observeCommit?: (report: CommitReport) => void
}

export interface RejectedEvent {
  index: number
  errors: FieldError[]
}

export interface BulkResult {
  /** Ids of the events now stored (including ones that were already stored), in input order. */
  ids: string[]
  rejected: RejectedEvent[]
}

export interface BulkOptions {
  /** Time the events were received; defaults to now. */
  receivedAt?: Date
  /**
   * The tenant an API key is bound to: events that name none get it, and an event naming another
   * tenant is refused (`tenant_id`/`tenant_mismatch`) — never silently moved.
   */
  boundTenant?: string
}

export interface AuditLogger {
  /** Resolves with the event id once the event is durably stored; throws AuditqError otherwise. */
  log(event: AuditEventInput): Promise<string>
  /** As `log`, with category `critical`, and never held back by the group-commit linger. */
  logCritical(event: AuditEventInput): Promise<string>
  /** Stores every valid event; invalid ones are reported by index. Throws only if the store is unavailable. */
  logBulk(events: readonly unknown[], options?: BulkOptions): Promise<BulkResult>
  /**
   * For request paths that must never wait or throw: returns at once. A failure is counted in
   * `stats().detachedFailures` and logged with the event's id and action — never silent.
   */
  logDetached(event: AuditEventInput): void
  stats(): LoggerStatsSnapshot
  readonly store: Store
  /** Stops accepting events, waits for everything accepted to be stored, closes an owned store. */
  close(): Promise<void>
}

/** Failures the caller should retry with the same ids (nothing wrong with the events themselves). */
const RETRYABLE = new Set<string>(['AUDITQ_STORE_UNAVAILABLE', 'AUDITQ_QUEUE_FULL', 'AUDITQ_SPILL_FULL', 'AUDITQ_SPILL_FAILED'])

export async function createAuditLogger(options: AuditLoggerOptions = {}): Promise<AuditLogger> {
  const ownsStore = options.store === undefined
  const logger = options.logger ?? createLogger({ level: 'warn', name: 'auditq-sdk' })
  const store =
    options.store ??
    (await openStore({
      databaseUrl: options.databaseUrl,
      databaseSchema: options.databaseSchema,
      dataDir: options.dataDir ?? './.auditq',
      embeddedDriver: options.embeddedDriver,
      logger,
    }))
  const resolved = { ...options, logger }
  try {
    if (options.redisUrl || options.queue) {
      const { createQueuedAuditLogger } = await import('./queued-logger.js')
      return await createQueuedAuditLogger(store, ownsStore, resolved)
    }
    const { DirectAuditLogger } = await import('./direct-logger.js')
    return new DirectAuditLogger(store, ownsStore, resolved)
  } catch (error) {
    if (ownsStore) await store.close().catch(() => undefined)
    throw error
  }
}

/**
 * Everything the SDK's loggers share — validation, bulk bookkeeping, detached logging, shutdown
 * order. A mode supplies only where accepted events go (`route`) and how it drains (`shutdown`).
 */
export abstract class BaseAuditLogger implements AuditLogger {
  protected readonly counters = new LoggerStats()
  protected readonly log_: Logger
  private readonly now: () => Date
  private readonly defaultTenant: string
  private readonly observeLogSeconds: ((seconds: number) => void) | undefined
  private readonly redaction: RedactionPolicy
  private readonly detached = new Set<Promise<unknown>>()
  /** Accepted events on their way (awaiting Redis or a commit); close() waits for them before shutting down. */
  private readonly routing = new Set<Promise<unknown>>()
  private closing: Promise<void> | undefined

  constructor(
    readonly store: Store,
    options: AuditLoggerOptions,
  ) {
    this.log_ = options.logger ?? createLogger({ level: 'warn', name: 'auditq-sdk' })
    this.now = options.now ?? (() => new Date())
    this.defaultTenant = options.defaultTenant ?? 'default'
    this.observeLogSeconds = options.observeLogSeconds
    this.redaction = redactionPolicy(options.redaction)
  }

  /** Sends validated events on their way; resolves with one outcome per event once each is durably accepted or refused. */
  protected abstract route(events: AuditEvent[], options: { critical: boolean }): Promise<EventOutcome[]>
  /** Waits for everything accepted to be durable and releases resources; called once. */
  protected abstract shutdown(): Promise<void>
  /** This process's group commit (every event in direct mode, critical events in queue mode): the source of the pending figures. */
  protected abstract readonly committer: GroupCommitter

  async log(event: AuditEventInput): Promise<string> {
    return this.logOne(event, false)
  }

  async logCritical(event: AuditEventInput): Promise<string> {
    return this.logOne({ ...event, category: 'critical' }, true)
  }

  async logBulk(inputs: readonly unknown[], options: BulkOptions = {}): Promise<BulkResult> {
    this.assertOpen()
    const receivedAt = options.receivedAt ?? this.now()
    const valid: { index: number; event: AuditEvent }[] = []
    const rejected: RejectedEvent[] = []
    inputs.forEach((input, index) => {
      const result = this.validate(input, receivedAt, options.boundTenant)
      if (result.ok) valid.push({ index, event: result.event })
      else rejected.push({ index, errors: result.errors })
    })
    const outcomes = await this.dispatch(valid.map((entry) => entry.event), { critical: false })
    const ids: string[] = []
    const unavailable: string[] = []
    outcomes.forEach((outcome, position) => {
      const { index, event } = valid[position]!
      if (outcome.ok) ids.push(event.id)
      else if (RETRYABLE.has(outcome.error.code)) unavailable.push(event.id)
      else rejected.push({ index, errors: [{ field: '(event)', rule: 'store_rejected', message: outcome.error.message }] })
    })
    if (unavailable.length > 0) {
      // Ids are returned so a retry with the same ids is idempotent.
      const code = outcomes.find((o) => !o.ok && RETRYABLE.has(o.error.code))
      throw new AuditqError(code && !code.ok ? code.error.code : 'AUDITQ_STORE_UNAVAILABLE', `${unavailable.length} of ${valid.length} events were not accepted; retry them with the same ids`, {
        details: { not_stored_ids: unavailable, stored_ids: ids },
      })
    }
    rejected.sort((a, b) => a.index - b.index)
    return { ids, rejected }
  }

  logDetached(event: AuditEventInput): void {
    const pending = this.logOne(event, false).catch((error: unknown) => {
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
      await this.shutdown()
    })()
    return this.closing
  }

  protected async logOne(input: AuditEventInput, urgent: boolean): Promise<string> {
    this.assertOpen()
    const result = this.validate(input, this.now())
    if (!result.ok) {
      const summary = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
      throw new AuditqError('AUDITQ_VALIDATION', `invalid audit event: ${summary}`, { details: result.errors })
    }
    const started = this.observeLogSeconds ? performance.now() : 0
    const [outcome] = await this.dispatch([result.event], { critical: urgent })
    if (this.observeLogSeconds) this.observeLogSeconds((performance.now() - started) / 1000)
    if (!outcome || !outcome.ok) throw outcome?.error ?? new AuditqError('AUDITQ_INTERNAL', 'no outcome for event')
    return result.event.id
  }

  private dispatch(events: AuditEvent[], options: { critical: boolean }): Promise<EventOutcome[]> {
    const routed = this.route(events, options)
    this.routing.add(routed)
    void routed.finally(() => this.routing.delete(routed)).catch(() => undefined)
    return routed
  }

  /** Validates, enforces a key's tenant, then redacts: what leaves here is exactly what is stored. */
  protected validate(input: unknown, receivedAt: Date, boundTenant?: string): ValidationResult {
    const result = validateEvent(input, { receivedAt, defaultTenant: boundTenant ?? this.defaultTenant })
    if (!result.ok) {
      this.counters.recordInvalid(result.errors[0]?.rule ?? 'unknown')
      return result
    }
    if (boundTenant !== undefined && result.event.tenant_id !== boundTenant) {
      this.counters.recordInvalid('tenant_mismatch')
      const message = `this API key writes only tenant ${JSON.stringify(boundTenant)}; the event names ${JSON.stringify(result.event.tenant_id)}`
      return { ok: false, errors: [{ field: 'tenant_id', rule: 'tenant_mismatch', message }] }
    }
    // The retention run's own record is what verify reads to know a cut is complete: nobody else
    // may write one, or a forged record could make verify flag a half-done run early.
    if (result.event.action === RETENTION_ACTION) {
      this.counters.recordInvalid('reserved')
      return { ok: false, errors: [{ field: 'action', rule: 'reserved', message: `"${RETENTION_ACTION}" is written only by auditq's own retention runs` }] }
    }
    const report = redactEvent(result.event, this.redaction)
    this.counters.redacted += report.redactedValues
    if (report.ipTruncated) this.counters.ipTruncated += 1
    this.counters.accepted += 1
    return result
  }

  protected assertOpen(): void {
    if (this.closing) throw new AuditqError('AUDITQ_CLOSED', 'the audit logger is closed')
  }
}

function safeAction(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined
  const action = (event as { action?: unknown }).action
  return typeof action === 'string' ? action.slice(0, 128) : undefined
}
