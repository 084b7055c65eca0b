import type { AuditEvent } from '../event/types.js'
import { DEFAULT_CLASS_TABLE, parseClassTable } from '../feed/ocsf/class-table.js'
import { toOcsf } from '../feed/ocsf/map.js'
import type { StreamFormat } from './definition.js'
import type { FeedEvent } from './sink.js'

/**
 * How a stream renders one event. `json` is the stored event as the API returns it, plus its
 * chain position; `ocsf` the feed's OCSF 1.x mapping. Either way the event id (`id`, or
 * `metadata.uid` in OCSF) is the idempotency key a receiver deduplicates on.
 */
export type EventFormatter = (entry: FeedEvent) => Record<string, unknown>

export function jsonRecord(entry: FeedEvent): Record<string, unknown> & AuditEvent {
  return { ...entry.event, seq: entry.seq, hash: entry.hash }
}

export type Formatters = Partial<Record<StreamFormat, EventFormatter>>

/**
 * One event's rendering as a JSON text, made once per event and formatter however many streams
 * send it: streams reading through the shared feed get the same FeedEvent objects, so a second
 * stream of the same format finds the text already made. Kept only as long as the event is.
 */
export function formatLine(formatter: EventFormatter, entry: FeedEvent): string {
  let byEntry = lines.get(formatter)
  if (!byEntry) lines.set(formatter, (byEntry = new WeakMap()))
  let line = byEntry.get(entry)
  if (line === undefined) {
    line = formatter === jsonRecord ? jsonLine(entry) : JSON.stringify(formatter(entry))
    byEntry.set(entry, line)
  }
  return line
}

const lines = new WeakMap<EventFormatter, WeakMap<FeedEvent, string>>()

/**
 * JSON.stringify(jsonRecord(entry)) without copying the event into a new object first: the
 * event's own text with seq and hash appended, which is where the spread puts them (the event
 * has no fields of those names).
 */
function jsonLine(entry: FeedEvent): string {
  return `${JSON.stringify(entry.event).slice(0, -1)},"seq":${JSON.stringify(entry.seq)},"hash":${JSON.stringify(entry.hash)}}`
}

/** Only `json`: for tests and tools that do not need the OCSF settings. */
export const BUILT_IN_FORMATTERS: Formatters = { json: jsonRecord }

/** Both formats, OCSF with the configured class table (the same one `GET /v1/feed?format=ocsf` uses). */
export function streamFormatters(options: { ocsfClassMap?: string | undefined; productVersion: string }): Formatters {
  const classTable = options.ocsfClassMap === undefined ? DEFAULT_CLASS_TABLE : parseClassTable(options.ocsfClassMap)
  return { json: jsonRecord, ocsf: (entry) => toOcsf(entry, { classTable, productVersion: options.productVersion }) }
}
