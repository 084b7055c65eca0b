/**
 * auditq for Cloudflare Workers: `new AuditService({ database, queue? })`, the constructor of the
 * seed's OpenAuth audit service, with the Node SDK's `log` / `logCritical` / `logBulk`, event
 * format, validation and seed-shape mapping (the same `src/event` code).
 *
 * - Without `queue`, events are written to D1 before `log()` resolves.
 * - With `queue`, `log()` resolves once the queue has accepted the message (`send` is awaited:
 *   the seed's fire-and-forget publish reported success for events that never left). If the
 *   queue refuses it, the event is written to D1 directly instead; should the send in fact have
 *   gone through, the consumer's insert is a no-op on the same id.
 * - `logCritical` always writes to D1 directly, as in the Node SDK.
 * - `logDetached(event, ctx)` is the non-blocking form for request paths: it hands the write to
 *   `ctx.waitUntil`, and a failure is counted in `stats()` and logged, never swallowed.
 */
import { AuditqError } from '../errors.js'
import type { AuditEvent, AuditEventInput } from '../event/types.js'
import { redactEvent, redactionPolicy, type RedactionOptions, type RedactionPolicy } from '../event/redact.js'
import type { BulkResult, RejectedEvent } from '../sdk/audit-logger.js'
import { validateEvent } from '../event/validate.js'
import { insertIsolating, type EventOutcome } from '../store/isolating-insert.js'
import type { D1Database, MessageSendRequest, Queue } from './bindings.js'
import { D1EventWriter } from './d1/writer.js'
import { consoleLog, type CloudflareLog } from './console-log.js'
import { toEnvelope, type AuditEventMessage } from './envelope.js'

export interface AuditServiceConfig {
  /** The D1 binding holding `audit_logs` (run `migrateD1` or the migration files first). */
  database: D1Database
  /** Optional Queue producer binding: events go through the queue and `handleAuditBatch` stores them. */
  queue?: Queue<AuditEventMessage>
  /** Tenant for events that name none (default `default`). */
  defaultTenant?: string
  /** Injected clock for tests; stamps `received_at`. */
  now?: () => Date
  /**
   * Applied before an event is queued or written, exactly as in the Node SDK: metadata keys
   * naming secrets become "[REDACTED]" (default list: password, passwd, secret, token, api_key,
   * authorization, cookie, credit_card, ssn); `{ keys: [] }` turns it off.
   */
  redaction?: RedactionOptions
  /** Where failures of detached writes and queue fallbacks are reported; defaults to the console. */
  log?: CloudflareLog
}

/**
 * The seed's token-usage event, accepted as is and mapped like every seed shape: `event_type` →
 * action, `subject` → actor_id, `token_id` → resource_id (resource_type `token`), `timestamp`
 * (epoch seconds or ms) → occurred_at.
 */
export interface TokenUsageEvent {
  token_id: string
  subject: string
  event_type: string
  client_id?: string
  ip_address?: string
  user_agent?: string
  timestamp: number
  metadata?: Record<string, unknown>
}

export type AuditInput = AuditEventInput | TokenUsageEvent

// The Node SDK's result types (type-only: nothing of the SDK's Node code is bundled).
export type { BulkResult, RejectedEvent }

export interface AuditServiceStats {
  accepted: number
  invalid: number
  written: number
  queued: number
  /** Events written to D1 because the queue refused them. */
  queueFallbacks: number
  /** Metadata values stored as "[REDACTED]". */
  redacted: number
  detachedFailures: number
}

/** What `logDetached` needs from the Worker's ExecutionContext. */
export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void
}

/** Cloudflare accepts at most 100 messages and 256 KB per `sendBatch`; stay under both. */
const SEND_BATCH_MAX_MESSAGES = 100
const SEND_BATCH_MAX_BYTES = 200_000

export class AuditService {
  private readonly db: D1Database
  private readonly queue: Queue<AuditEventMessage> | undefined
  private readonly writer: D1EventWriter
  private readonly now: () => Date
  private readonly defaultTenant: string
  private readonly report: CloudflareLog
  private readonly redaction: RedactionPolicy
  private readonly counters: AuditServiceStats = { accepted: 0, invalid: 0, written: 0, queued: 0, queueFallbacks: 0, redacted: 0, detachedFailures: 0 }

  constructor(config: AuditServiceConfig) {
    if (!config || typeof config.database?.prepare !== 'function') {
      throw new AuditqError('AUDITQ_CONFIG', 'AuditService: `database` must be a D1 binding (env.DB)')
    }
    this.db = config.database
    this.queue = config.queue
    this.writer = new D1EventWriter(config.database)
    this.now = config.now ?? (() => new Date())
    this.defaultTenant = config.defaultTenant ?? 'default'
    this.redaction = redactionPolicy(config.redaction)
    this.report = config.log ?? consoleLog
  }

  /** `queue` when a queue binding was given, else `direct`. */
  get mode(): 'queue' | 'direct' {
    return this.queue ? 'queue' : 'direct'
  }

  /** Resolves with the event id once D1 holds the event (direct) or the queue accepted it. Throws AuditqError otherwise. */
  async log(input: AuditInput): Promise<string> {
    return this.logOne(input, { critical: false })
  }

  /** As `log`, with category `critical`, and always written to D1 directly, never through the queue. */
  async logCritical(input: AuditInput): Promise<string> {
    return this.logOne({ ...input, category: 'critical' }, { critical: true })
  }

  /** Stores (or queues) every valid event; invalid ones are reported by index. Throws only if nothing could take the valid ones. */
  async logBulk(inputs: readonly unknown[]): Promise<BulkResult> {
    const receivedAt = this.now()
    const valid: { index: number; event: AuditEvent }[] = []
    const rejected: RejectedEvent[] = []
    inputs.forEach((input, index) => {
      const result = this.validate(input, receivedAt)
      if (result.ok) valid.push({ index, event: result.event })
      else rejected.push({ index, errors: result.errors })
    })
    const outcomes = await this.route(valid.map((entry) => entry.event), { critical: false })
    const ids: string[] = []
    const notStored: string[] = []
    outcomes.forEach((outcome, position) => {
      const { index, event } = valid[position]!
      if (outcome.ok) ids.push(event.id)
      else if (outcome.error.code === 'AUDITQ_STORE_REJECTED') rejected.push({ index, errors: [{ field: '(event)', rule: 'store_rejected', message: outcome.error.message }] })
      else notStored.push(event.id)
    })
    if (notStored.length > 0) {
      throw new AuditqError('AUDITQ_STORE_UNAVAILABLE', `${notStored.length} of ${valid.length} events were not accepted; retry them with the same ids`, {
        details: { not_stored_ids: notStored, stored_ids: ids },
      })
    }
    rejected.sort((a, b) => a.index - b.index)
    return { ids, rejected }
  }

  /** For request paths that must not wait: the write continues under `ctx.waitUntil`; a failure is counted and logged. */
  logDetached(input: AuditInput, ctx: WaitUntil): void {
    ctx.waitUntil(
      this.log(input).catch((error: unknown) => {
        this.counters.detachedFailures += 1
        const { code, message } = error instanceof AuditqError ? error : { code: 'AUDITQ_INTERNAL', message: String(error) }
        this.report('error', { msg: 'detached audit event not stored', code, err_message: message })
      }),
    )
  }

  /** Counters of this isolate (Workers run many isolates; aggregate them in your logs). */
  stats(): AuditServiceStats {
    return { ...this.counters }
  }

  private async logOne(input: AuditInput, options: { critical: boolean }): Promise<string> {
    const result = this.validate(input, this.now())
    if (!result.ok) {
      const summary = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
      throw new AuditqError('AUDITQ_VALIDATION', `invalid audit event: ${summary}`, { details: result.errors })
    }
    const [outcome] = await this.route([result.event], options)
    if (!outcome || !outcome.ok) throw outcome?.error ?? new AuditqError('AUDITQ_INTERNAL', 'no outcome for event')
    return result.event.id
  }

  private validate(input: unknown, receivedAt: Date) {
    const result = validateEvent(input, { receivedAt, defaultTenant: this.defaultTenant })
    if (!result.ok) {
      this.counters.invalid += 1
      return result
    }
    this.counters.accepted += 1
    this.counters.redacted += redactEvent(result.event, this.redaction).redactedValues
    return result
  }

  private async route(events: AuditEvent[], options: { critical: boolean }): Promise<EventOutcome[]> {
    if (events.length === 0) return []
    if (!this.queue || options.critical) return this.write(events)
    try {
      await this.enqueue(this.queue, events)
      this.counters.queued += events.length
      return events.map(() => ({ ok: true }))
    } catch (error) {
      // Some chunks may have been sent before one failed: writing all of them is safe, the
      // consumer's insert of an id already stored is a no-op.
      this.counters.queueFallbacks += events.length
      this.report('warn', { msg: 'queue refused audit events; writing them to D1 directly', events: events.length, err_message: error instanceof Error ? error.message : String(error) })
      return this.write(events)
    }
  }

  private async write(events: AuditEvent[]): Promise<EventOutcome[]> {
    const report = await insertIsolating(this.writer, events)
    this.counters.written += report.inserted + report.duplicates
    return report.outcomes
  }

  private async enqueue(queue: Queue<AuditEventMessage>, events: AuditEvent[]): Promise<void> {
    const now = this.now().getTime()
    if (events.length === 1) {
      await queue.send(toEnvelope(events[0]!, now), { contentType: 'json' })
      return
    }
    for (const chunk of sendBatches(events.map((event) => toEnvelope(event, now)))) {
      await queue.sendBatch(chunk.map((body): MessageSendRequest<AuditEventMessage> => ({ body, contentType: 'json' })))
    }
  }
}

function sendBatches(messages: AuditEventMessage[]): AuditEventMessage[][] {
  const batches: AuditEventMessage[][] = []
  let current: AuditEventMessage[] = []
  let bytes = 0
  for (const message of messages) {
    const size = JSON.stringify(message).length * 3 // worst case UTF-8 bytes per UTF-16 unit, no encoder needed
    if (current.length > 0 && (current.length === SEND_BATCH_MAX_MESSAGES || bytes + size > SEND_BATCH_MAX_BYTES)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(message)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}
