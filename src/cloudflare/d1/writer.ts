/**
 * Batch inserts into D1. D1 allows 100 bound parameters per statement, which at 19 columns is 5
 * rows — a 100-message queue batch would be 20 statements, and every statement counts against the
 * Worker's per-invocation query limit (50 on the free plan). So rows travel as one JSON array in a
 * single parameter and `json_each` unpacks them: one statement per chunk of up to
 * `MAX_CHUNK_BYTES` of JSON, under D1's 1,000,000-byte limit for one string value. All chunks go
 * in one `db.batch`, which D1 runs as one transaction.
 *
 * Idempotent on `id` with `ON CONFLICT (id) DO NOTHING` (not `INSERT OR IGNORE`, which would also
 * skip rows breaking a CHECK and count them as duplicates — the embedded store's reasoning).
 */
import { EVENT_FIELDS, type AuditEvent } from '../../event/types.js'
import type { BatchInserter } from '../../store/isolating-insert.js'
import { toRow } from '../../store/embedded/sql.js'
import type { InsertResult, StoreErrorKind } from '../../store/store.js'
import type { D1Database } from '../bindings.js'

/** Headroom under D1's 1,000,000-byte string limit for the JSON array parameter. */
export const MAX_CHUNK_BYTES = 800_000

const INSERT_JSON_SQL = `INSERT INTO audit_logs (${EVENT_FIELDS.join(', ')})
  SELECT ${EVENT_FIELDS.map((field) => `value ->> '${field}'`).join(', ')}
    FROM json_each(?)
   WHERE true
  ON CONFLICT (id) DO NOTHING`
// `WHERE true` is SQLite's documented way to keep `ON CONFLICT` from parsing as a join constraint
// when an upsert's source is a SELECT.

export class D1EventWriter implements BatchInserter {
  constructor(private readonly db: D1Database) {}

  async insertBatch(events: readonly AuditEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 }
    const statements = chunkRows(events).map((json) => this.db.prepare(INSERT_JSON_SQL).bind(json))
    const results = await this.db.batch(statements)
    const inserted = results.reduce((sum, result) => sum + Number(result.meta.changes ?? 0), 0)
    return { inserted, duplicates: events.length - inserted }
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyD1Error(error)
  }
}

/** Rows as JSON arrays, each at most MAX_CHUNK_BYTES of UTF-8 (a single event is far below it). Exported for its test. */
export function chunkRows(events: readonly AuditEvent[]): string[] {
  return chunkJson(events.map((event) => JSON.stringify(toRow(event))))
}

/** JSON texts packed into JSON arrays of at most MAX_CHUNK_BYTES of UTF-8 each, for `json_each(?)`. */
export function chunkJson(rows: readonly string[]): string[] {
  const chunks: string[] = []
  let current: string[] = []
  let bytes = 2
  for (const json of rows) {
    const size = utf8Length(json) + 1
    if (current.length > 0 && bytes + size > MAX_CHUNK_BYTES) {
      chunks.push(`[${current.join(',')}]`)
      current = []
      bytes = 2
    }
    current.push(json)
    bytes += size
  }
  chunks.push(`[${current.join(',')}]`)
  return chunks
}

function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4 // a surrogate pair (the validator refuses lone surrogates)
      i += 1
    } else bytes += 3
  }
  return bytes
}

/**
 * SQLite refusing the content (constraint, type, size) is a `data` error: retrying the same rows
 * cannot help, so the batch is split to isolate them. Anything else — D1 unreachable, overloaded,
 * reset, timed out — is `transient`.
 */
const DATA_ERROR = /SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)|D1_TYPE_ERROR|string or blob too big|too many SQL variables/i

export function classifyD1Error(error: unknown): StoreErrorKind {
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error)
  return DATA_ERROR.test(text) ? 'data' : 'transient'
}
