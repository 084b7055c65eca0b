/**
 * Row encodings the baselines write with, all into the store's own table (`audit_logs`, migrated
 * by the real store): the Redis-list design's multi-row `INSERT … VALUES`, the one-row INSERT of the BullMQ
 * processor, and the text format of `COPY`.
 */
import { EVENT_FIELDS, type AuditEvent } from '../../src/event/types.js'
import { CURRENT_CANONICAL_VERSION } from '../../src/integrity/canonical-version.js'
import { COLUMNS } from '../../src/store/postgres/sql.js'

export function rowValues(event: AuditEvent): unknown[] {
  return EVENT_FIELDS.map((field) => (field === 'metadata' ? JSON.stringify(event.metadata) : event[field]))
}

/** `INSERT INTO audit_logs (…) VALUES ($1, …), (…)` for `rows` rows: what an ORM's bulk insert sends. */
export function insertValuesSql(rows: number): string {
  const width = EVENT_FIELDS.length
  const tuples: string[] = []
  for (let r = 0; r < rows; r++) tuples.push(`(${EVENT_FIELDS.map((_, c) => `$${r * width + c + 1}`).join(', ')})`)
  return `INSERT INTO audit_logs (${COLUMNS}) VALUES ${tuples.join(', ')}`
}

/**
 * The ceiling writes the rows auditq stores, search document and canonical version included: a
 * NULL search column would skip the GIN index, and the ceiling would be one the store could never
 * reach for a reason that has nothing to do with how it writes.
 */
export const COPY_SQL = `COPY audit_logs (${COLUMNS}, search, canonical_version) FROM STDIN`

/** One line of COPY's text format: tab-separated, `\N` for null, backslash escapes. `search` is the tsvector literal the store writes. */
export function copyLine(event: AuditEvent, search: string): string {
  let line = ''
  for (let c = 0; c < EVENT_FIELDS.length; c++) {
    const field = EVENT_FIELDS[c]!
    const value = field === 'metadata' ? JSON.stringify(event.metadata) : event[field]
    if (c > 0) line += '\t'
    line += value === null ? '\\N' : escapeCopy(String(value))
  }
  return `${line}\t${escapeCopy(search)}\t${CURRENT_CANONICAL_VERSION}\n`
}

function escapeCopy(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : text
}
