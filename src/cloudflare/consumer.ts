/**
 * The queue consumer: `handleAuditBatch(batch, db)` in a Worker's `queue()` handler.
 *
 * Every message ends in exactly one named state, and nothing is dropped silently:
 * - **stored** — its event is in D1 (inserted now, or already there: redelivery is idempotent on
 *   the event id) → `ack()`.
 * - **rejected** — not an envelope, or an event that fails validation. Its content will never
 *   change, so retrying is pointless; it is written to `audit_rejects` with the reasons and the
 *   body, logged, and only then acknowledged.
 * - **retried** — D1 could not take it (unreachable, or it refused this one event after the batch
 *   was split to isolate it), the rejects table could not be written, or the envelope comes from a
 *   newer producer (`version` > 1) → `retry({ delaySeconds })` for that message alone. After the
 *   queue's `max_retries` Cloudflare moves it to the dead-letter queue, intact. Before an event's
 *   last delivery is retried, its producer numbers are recorded in D1 as dead-lettered
 *   (`auditq.producer.dead_lettered`, as the Node worker does), so the completeness check names
 *   them "dead-lettered" and not "missing"; that needs `maxRetries` to be the queue's `max_retries`.
 *
 * All valid events of a batch go to D1 in one statement group (`db.batch`, one transaction);
 * only when that fails for content is the group split (`insertIsolating`), so one poison event
 * never holds back its batch-mates.
 */
import type { AuditEvent, FieldError } from '../event/types.js'
import { isSecretKey, REDACTED, redactionPolicy, type RedactionOptions, type RedactionPolicy } from '../event/redact.js'
import { Intake } from '../event/intake.js'
import { insertIsolating } from '../store/isolating-insert.js'
import type { D1Database, Message, MessageBatch } from './bindings.js'
import { chunkJson, D1EventWriter } from './d1/writer.js'
import { deadLetterRecords } from '../completeness/accounting.js'
import { consoleLog, type CloudflareLog } from './console-log.js'
import { readEnvelope } from './envelope.js'
import { eventIdForMessage } from './message-id.js'

export interface AuditBatchOptions {
  /** Delay before a retried message is redelivered: `base * 2^(attempts-1)`, capped (seconds). */
  retryDelay?: { baseSeconds?: number; maxSeconds?: number }
  /** The queue's `max_retries` (Cloudflare's default is 3), only to say in the log when a message is on its last delivery. */
  maxRetries?: number
  /** Tenant for events that name none (default `default`). */
  defaultTenant?: string
  /**
   * Redaction before storage, as in the Node SDK (default list; `{ keys: [] }` turns it off).
   * Applied here too because legacy producers send straight to the queue, past AuditService.
   */
  redaction?: RedactionOptions
  /** Where decisions are reported; defaults to JSON lines on the console (Workers Logs). */
  log?: CloudflareLog
}

export interface AuditBatchResult {
  stored: number
  duplicates: number
  rejected: number
  retried: number
}

type Prepared =
  | { message: Message<unknown>; state: 'event'; event: AuditEvent }
  | { message: Message<unknown>; state: 'rejected'; reason: 'malformed' | 'invalid_event'; errors: FieldError[] }
  | { message: Message<unknown>; state: 'retry'; why: string }

export async function handleAuditBatch(batch: MessageBatch<unknown>, db: D1Database, options: AuditBatchOptions = {}): Promise<AuditBatchResult> {
  const log = options.log ?? consoleLog
  const result: AuditBatchResult = { stored: 0, duplicates: 0, rejected: 0, retried: 0 }
  const isLastDelivery = (message: Message<unknown>) => message.attempts > (options.maxRetries ?? 3)
  const retry = (message: Message<unknown>, why: string, detail: Record<string, unknown> = {}) => {
    const delaySeconds = retryDelaySeconds(message.attempts, options.retryDelay)
    const last = isLastDelivery(message)
    log(last ? 'error' : 'warn', {
      msg: last ? 'audit message failed its last delivery; the queue moves it to its dead-letter queue' : 'audit message will be redelivered',
      queue: batch.queue,
      message_id: message.id,
      attempts: message.attempts,
      why,
      delay_seconds: delaySeconds,
      ...detail,
    })
    message.retry({ delaySeconds })
    result.retried += 1
  }

  const redaction = redactionPolicy(options.redaction)
  // The intake every runtime shares: a producer writing straight to the queue gets the same
  // validation, reserved-action check and redaction as one going through `AuditService`.
  const intake = new Intake({ ...(options.defaultTenant === undefined ? {} : { defaultTenant: options.defaultTenant }), redaction, onInvalid: () => undefined, onAccepted: () => undefined })
  const prepared = await Promise.all(batch.messages.map((message) => prepare(message, intake)))
  const events = prepared.filter((p) => p.state === 'event')
  const rejects = prepared.filter((p) => p.state === 'rejected')
  for (const p of prepared) if (p.state === 'retry') retry(p.message, p.why)

  if (events.length > 0) {
    const report = await insertIsolating(new D1EventWriter(db), events.map((p) => p.event))
    result.stored += report.inserted
    result.duplicates += report.duplicates
    const failed: Array<{ message: Message<unknown>; event: AuditEvent; why: string; error: string }> = []
    report.outcomes.forEach((outcome, index) => {
      const { message, event } = events[index]!
      if (outcome.ok) message.ack()
      else failed.push({ message, event, why: outcome.error.code === 'AUDITQ_STORE_REJECTED' ? 'd1_refused_event' : 'd1_unavailable', error: outcome.error.message })
    })
    // Recorded before the retry that sends them to the dead-letter queue (see the header).
    const final = failed.filter((f) => isLastDelivery(f.message))
    if (final.length > 0) await recordDeadLetters(db, final, batch.queue, log)
    for (const f of failed) retry(f.message, f.why, { event_id: f.event.id, error: f.error })
  }

  if (rejects.length > 0) {
    try {
      await recordRejects(db, batch.queue, rejects, redaction)
      for (const p of rejects) {
        log('error', { msg: 'audit message rejected and recorded in audit_rejects', queue: batch.queue, message_id: p.message.id, reason: p.reason, errors: p.errors })
        p.message.ack()
        result.rejected += 1
      }
    } catch (error) {
      for (const p of rejects) retry(p.message, 'audit_rejects_unwritable', { error: error instanceof Error ? error.message : String(error) })
    }
  }
  return result
}

/**
 * Writes the dead-letter records of events on their last delivery, one per tenant, producer and
 * error (unnumbered events need none). A record D1 cannot take is logged at error and the messages
 * go to the dead-letter queue anyway: Cloudflare moves a last delivery however this ends, so
 * holding them back is not possible; their numbers then show as missing, visibly.
 */
async function recordDeadLetters(db: D1Database, final: ReadonlyArray<{ event: AuditEvent; error: string }>, queue: string, log: CloudflareLog): Promise<void> {
  const now = new Date()
  const byError = new Map<string, AuditEvent[]>()
  for (const { event, error } of final) {
    const list = byError.get(error)
    if (list) list.push(event)
    else byError.set(error, [event])
  }
  const records = [...byError].flatMap(([error, list]) => deadLetterRecords(list, error, now))
  if (records.length === 0) return
  try {
    await new D1EventWriter(db).insertBatch(records)
  } catch (error) {
    log('error', { msg: 'dead-letter record not written; the dead-lettered numbers will show as missing', queue, records: records.length, error: error instanceof Error ? error.message : String(error) })
  }
}

async function prepare(message: Message<unknown>, intake: Intake): Promise<Prepared> {
  const envelope = readEnvelope(message.body)
  if (envelope.kind === 'unknown_version') return { message, state: 'retry', why: `envelope version ${String(envelope.version)} is newer than this consumer understands` }
  if (envelope.kind === 'malformed') {
    return { message, state: 'rejected', reason: 'malformed', errors: [{ field: '(message)', rule: 'envelope', message: envelope.reason }] }
  }
  // Our producer stamps received_at when `log()` accepted the event; a legacy producer sends none,
  // so the time the queue accepted the message stands in (it is the same on every redelivery).
  const { received_at: sentReceivedAt, ...input } = envelope.event
  let receivedAt = message.timestamp
  if (sentReceivedAt !== undefined && sentReceivedAt !== null) {
    const ms = typeof sentReceivedAt === 'string' ? Date.parse(sentReceivedAt) : NaN
    if (Number.isNaN(ms)) {
      return { message, state: 'rejected', reason: 'invalid_event', errors: [{ field: 'received_at', rule: 'timestamp', message: 'must be an ISO-8601 timestamp' }] }
    }
    receivedAt = new Date(ms)
  }
  if (input.id === undefined || input.id === null) input.id = await eventIdForMessage(message.id)
  const validated = intake.admit(input, { receivedAt })
  if (!validated.ok) return { message, state: 'rejected', reason: 'invalid_event', errors: validated.errors }
  return { message, state: 'event', event: validated.event }
}

async function recordRejects(db: D1Database, queue: string, rejects: readonly Extract<Prepared, { state: 'rejected' }>[], redaction: RedactionPolicy): Promise<void> {
  const now = Date.now()
  // One statement per ~800 KB of rejects, like the event writer: a batch of 100 malformed messages
  // must not become 100 statements against the Worker's per-invocation query limit.
  const rows = rejects.map((p) =>
    JSON.stringify({ message_id: p.message.id, queue, rejected_at: now, reason: p.reason, errors: JSON.stringify(p.errors), body: bodyText(p.message.body, redaction) }),
  )
  await db.batch(chunkJson(rows).map((json) => db.prepare(INSERT_REJECTS_SQL).bind(json)))
}

const INSERT_REJECTS_SQL = `INSERT INTO audit_rejects (message_id, queue, rejected_at, reason, errors, body)
  SELECT value ->> 'message_id', value ->> 'queue', value ->> 'rejected_at', value ->> 'reason', value ->> 'errors', value ->> 'body'
    FROM json_each(?)
   WHERE true
  ON CONFLICT (message_id) DO NOTHING`

/**
 * The body as JSON when it has a JSON form, with values under secret-naming keys redacted (a
 * refused message is kept for inspection, its secrets are not); otherwise a description, so the
 * row is still written. Identifiers stay: the row exists so an operator can find the message
 * (by its `token_id`, say), fix it and replay it, and a `token_id` or `api_key_id` names a
 * secret without being one.
 */
function bodyText(body: unknown, redaction: RedactionPolicy): string {
  try {
    return JSON.stringify(body, (key, value: unknown) => (key !== '' && !namesIdentifier(key) && isSecretKey(key, redaction) ? REDACTED : value)) ?? String(body)
  } catch {
    return `(no JSON form: ${Object.prototype.toString.call(body)})`
  }
}

/**
 * True when a key's last word is `id` or `ids` (`token_id`, `api-key-id`, `accessTokenId`,
 * `KEY_IDS`): it holds an identifier of a secret, not the secret. A lower-case run with no
 * separator (`tokenid`) is not recognised and stays redacted, the safe side of the doubt.
 */
function namesIdentifier(key: string): boolean {
  return /(?:^|[^A-Za-z0-9])ids?$/i.test(key) || /[a-z0-9](?:Id|ID)s?$/.test(key)
}

export function retryDelaySeconds(attempts: number, delay: AuditBatchOptions['retryDelay'] = {}): number {
  const base = delay.baseSeconds ?? 10
  const max = delay.maxSeconds ?? 600
  return Math.min(max, base * 2 ** Math.max(0, attempts - 1))
}
