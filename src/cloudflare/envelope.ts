/**
 * The queue message format of the legacy OpenAuth audit service: `{version: 1, event, enqueued_at}`.
 * auditq's producer puts the validated event (id, received_at and all) in `event`; legacy
 * producers put their raw token-usage shape there. The consumer accepts both: an event is validated
 * again on the way out of the queue either way, because the queue is a trust boundary too.
 */
import type { AuditEvent } from '../event/types.js'

export const ENVELOPE_VERSION = 1

export interface AuditEventMessage<Event = AuditEvent | Record<string, unknown>> {
  version: number
  event: Event
  /** Epoch ms when the producer sent it (legacy producers send epoch seconds; it is informational only). */
  enqueued_at: number
}

export function toEnvelope(event: AuditEvent, now: number): AuditEventMessage<AuditEvent> {
  return { version: ENVELOPE_VERSION, event, enqueued_at: now }
}

/**
 * What a consumer can make of a message body:
 * - `event` — an event to validate and store;
 * - `unknown_version` — sent by a newer producer than this consumer (a rolling deploy). The
 *   content may be fine, so it is retried and, if no upgraded consumer picks it up in time, kept
 *   intact in the dead-letter queue — never dropped;
 * - `malformed` — not an envelope at all; no consumer version will ever read it.
 */
export type EnvelopeReading =
  | { kind: 'event'; event: Record<string, unknown> }
  | { kind: 'unknown_version'; version: unknown }
  | { kind: 'malformed'; reason: string }

export function readEnvelope(body: unknown): EnvelopeReading {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { kind: 'malformed', reason: 'the message body is not a JSON object' }
  }
  const { version, event } = body as Record<string, unknown>
  if (version !== ENVELOPE_VERSION) {
    return typeof version === 'number' && Number.isInteger(version) && version > ENVELOPE_VERSION
      ? { kind: 'unknown_version', version }
      : { kind: 'malformed', reason: `version must be ${ENVELOPE_VERSION}, got ${JSON.stringify(version) ?? 'nothing'}` }
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return { kind: 'malformed', reason: 'event must be a JSON object' }
  }
  return { kind: 'event', event: event as Record<string, unknown> }
}
