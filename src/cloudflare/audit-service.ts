/**
 * auditq for Cloudflare Workers: `new AuditService({ database, queue? })`, the constructor of the
 * legacy OpenAuth audit service (so it drops in), with the Node SDK's `log` / `logCritical` /
 * `logBulk`, event format and intake: validation, legacy-shape mapping, reserved actions and
 * redaction (the same `src/event` code).
 *
 * - Without `queue`, events are written to D1 before `log()` resolves.
 * - With `queue`, `log()` resolves once the queue has accepted the message (`send` is awaited:
 *   a fire-and-forget publish would report success for events that never left). If the
 *   queue refuses it, the event is written to D1 directly instead; should the send in fact have
 *   gone through, the consumer's insert is a no-op on the same id.
 * - Critical events (`logCritical`, or category `critical` in any call) are always written to D1
 *   directly, as in the Node SDK.
 * - `logDetached(event, ctx)` is the non-blocking form for request paths: it hands the write to
 *   `ctx.waitUntil`, and a failure is counted in `stats()` and logged, never swallowed.
 */
import { AuditqError } from '../errors.js'
import { Intake, routeByCriticality, type BulkResult, type EventOutcome, type RejectedEvent } from '../event/intake.js'
import { redactionPolicy, type RedactionOptions } from '../event/redact.js'
import type { AuditEvent, AuditEventInput } from '../event/types.js'
import { insertIsolating } from '../store/isolating-insert.js'
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
 * The legacy OpenAuth token-usage event, accepted as is and mapped like every legacy shape: `event_type` →
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

// The same result types as the Node SDK's, from the shared intake.
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
  private readonly report: CloudflareLog
  private readonly intake: Intake
  private readonly counters: AuditServiceStats = { accepted: 0, invalid: 0, written: 0, queued: 0, queueFallbacks: 0, redacted: 0, detachedFailures: 0 }

  constructor(config: AuditServiceConfig) {
    if (!config || typeof config.database?.prepare !== 'function') {
      throw new AuditqError('AUDITQ_CONFIG', 'AuditService: `database` must be a D1 binding (env.DB)')
    }
    this.db = config.database
    this.queue = config.queue
    this.writer = new D1EventWriter(config.database)
    this.now = config.now ?? (() => new Date())
    this.report = config.log ?? consoleLog
    this.intake = new Intake({
      defaultTenant: config.defaultTenant ?? 'default',
      redaction: redactionPolicy(config.redaction),
      onInvalid: () => (this.counters.invalid += 1),
      onAccepted: (report) => {
        this.counters.accepted += 1
        this.counters.redacted += report.redactedValues
      },
    })
  }

  /** `queue` when a queue binding was given, else `direct`. */
  get mode(): 'queue' | 'direct' {
    return this.queue ? 'queue' : 'direct'
  }

  /** Resolves with the event id once D1 holds the event (direct) or the queue accepted it. Throws AuditqError otherwise. */
  async log(input: AuditInput): Promise<string> {
    return this.intake.one(input, { receivedAt: this.now() }, (events) => this.route(events))
  }

  /** As `log`, with category `critical`, and always written to D1 directly, never through the queue. */
  async logCritical(input: AuditInput): Promise<string> {
    return this.log({ ...input, category: 'critical' })
  }

  /** Stores (or queues) every valid event; invalid ones are reported by index. Throws only if nothing could take the valid ones. */
  async logBulk(inputs: readonly unknown[]): Promise<BulkResult> {
    return this.intake.bulk(inputs, { receivedAt: this.now() }, (events) => this.route(events))
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

  /** Critical events (see `isCritical`) are written to D1 at once; the rest go through the queue when there is one. */
  private route(events: AuditEvent[]): Promise<EventOutcome[]> {
    return routeByCriticality(events, {
      critical: (critical) => this.write(critical),
      others: (others) => (this.queue ? this.enqueueOrWrite(this.queue, others) : this.write(others)),
    })
  }

  private async enqueueOrWrite(queue: Queue<AuditEventMessage>, events: AuditEvent[]): Promise<EventOutcome[]> {
    try {
      await this.enqueue(queue, events)
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
