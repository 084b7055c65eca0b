import { withAddedFields, type AuditEvent } from '../../event/types.js'
import { eventFromCanonical, prepareEvent, PreparedEventError, verifyPrepared, type PreparedEvent } from '../../integrity/prepared-event.js'

/**
 * An event travels in a single stream field (`event`), so the Lua scripts move an entry
 * (dead-letter, replay) without knowing its shape. One field rather than one per column: measured
 * with `bench/queue-producer.ts`, pipelined XADD + XRANGE is 2.7x faster (Redis parses 4 arguments
 * per entry instead of 40) for 1.5x the stream memory.
 *
 * What the field holds is what the PostgreSQL insert consumes, computed once by the producer
 * (docs/decisions.md, "The queue moves bytes"):
 *
 *     <content digest, 64 hex> <search document>\n<canonical form (auditq.v2 JSON array)>
 *
 * The worker checks the digest against the canonical bytes and passes those through to the
 * insert: no JSON.parse, no re-canonicalization. Entries written by older producers hold the
 * compact JSON of the AuditEvent (an object, so they start with `{`) and are still read.
 */
export function encodeEvent(event: AuditEvent): string {
  return encodePrepared(prepareEvent(event))
}

export function encodePrepared(prepared: PreparedEvent): string {
  return `${prepared.digest} ${prepared.search}\n${prepared.canonical}`
}

export type DecodedEntry =
  | { kind: 'prepared'; prepared: PreparedEvent }
  | { kind: 'event'; event: AuditEvent }
  | { kind: 'refused'; reason: string }

/** Payloads of entries that are not events at all (hand-written, foreign): dead-lettered with this reason. */
export const UNDECODABLE = 'undecodable payload: not the JSON of an audit event'

/**
 * Reads a payload in either format. A prepared entry whose digest, form or search document does
 * not check out is `refused` with the rule it broke: the worker dead-letters it with that reason.
 */
export function decodeEntry(payload: string | Buffer): DecodedEntry {
  const text = typeof payload === 'string'
  if ((text ? payload.charCodeAt(0) : payload[0]) === 123 /* { */) {
    const event = decodeEventJson(text ? payload : payload.toString('utf8'))
    return event === null ? { kind: 'refused', reason: UNDECODABLE } : { kind: 'event', event }
  }
  const newline = payload.indexOf('\n')
  if (newline < 65 || (text ? payload.charCodeAt(64) : payload[64]) !== 32 /* space */) return { kind: 'refused', reason: UNDECODABLE }
  try {
    // As bytes from the queue, the canonical form stays bytes: hashed and sent on undecoded.
    const prepared = text
      ? verifyPrepared(payload.slice(newline + 1), payload.slice(0, 64), payload.slice(65, newline))
      : verifyPrepared(payload.subarray(newline + 1), payload.toString('latin1', 0, 64), payload.toString('latin1', 65, newline))
    return { kind: 'prepared', prepared }
  } catch (error) {
    if (!(error instanceof PreparedEventError)) throw error
    return { kind: 'refused', reason: `refused queue entry: ${error.message}` }
  }
}

/**
 * The event a payload holds, or null when it is not one (hand-written entries, a corrupt or
 * foreign payload, a prepared entry failing its checks): for `auditq dlq` listings and tests.
 */
export function decodeEvent(payload: string): AuditEvent | null {
  const decoded = decodeEntry(payload)
  if (decoded.kind === 'event') return decoded.event
  if (decoded.kind === 'refused') return null
  return eventOfPrepared(decoded.prepared)
}

/** The event back from a prepared entry's canonical form, or null if that form is not one (only a forged entry's is not). */
export function eventOfPrepared(prepared: PreparedEvent): AuditEvent | null {
  try {
    return eventFromCanonical(prepared.canonical)
  } catch (error) {
    if (error instanceof PreparedEventError) return null
    throw error
  }
}

const REQUIRED_STRINGS = ['id', 'tenant_id', 'action', 'category', 'occurred_at', 'received_at'] as const

/**
 * An older producer's entry. Events were validated before they were enqueued, so this checks only
 * that the payload has an event's shape; the store remains the judge of content.
 */
function decodeEventJson(payload: string): AuditEvent | null {
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    // Not JSON: the caller dead-letters it with the raw payload, so nothing is lost.
    return null
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const record = value as Record<string, unknown>
  for (const key of REQUIRED_STRINGS) if (typeof record[key] !== 'string') return null
  // An entry queued by an older version lacks the fields added since: they were not sent.
  return withAddedFields(value as AuditEvent)
}

/** The `event` value of a stream entry's flat [field, value, …] list, if present. */
export function payloadOf<T extends string | Buffer>(fields: readonly T[] | null): T | null {
  if (fields === null) return null
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!
    if (typeof name === 'string' ? name === 'event' : name.length === 5 && name.toString('latin1') === 'event') return fields[i + 1] ?? null
  }
  return null
}

/** Milliseconds part of a stream entry id (`1700000000000-0`), i.e. Redis' clock when it was added. */
export function entryTimeMs(entryId: string): number {
  return Number(entryId.slice(0, entryId.indexOf('-')))
}
