import type { AuditEvent } from '../event/types.js'
import type { StreamFormat } from './definition.js'
import type { FeedEvent } from './sink.js'

/**
 * How a stream renders one event. `json` is the stored event as the API returns it, plus its
 * chain position; the event id is the idempotency key a receiver deduplicates on.
 */
export type EventFormatter = (entry: FeedEvent) => Record<string, unknown>

export function jsonRecord(entry: FeedEvent): Record<string, unknown> & AuditEvent {
  return { ...entry.event, seq: entry.seq, hash: entry.hash }
}

/** The formatters a build offers; `ocsf` is present once the OCSF mapper is wired in. */
export type Formatters = Partial<Record<StreamFormat, EventFormatter>>

export const BUILT_IN_FORMATTERS: Formatters = { json: jsonRecord }
