/**
 * Row <-> event mapping and query building for the embedded (SQLite) store. Pure: no connection.
 *
 * Timestamps are stored as INTEGER epoch milliseconds, not ISO text, so ordering, range filters
 * and the keyset comparison are exact integer comparisons; events carry ms-precision ISO strings,
 * so `new Date(ms).toISOString()` gives back the very string that was stored.
 */
import { toFts5 } from '../../query/search/syntax.js'
import { EVENT_FIELDS, type AuditEvent, type Category } from '../../event/types.js'
import { CURRENT_CANONICAL_VERSION } from '../../integrity/canonical-version.js'
import { SUBJECT_MATCH_FIELDS, type EventFilter } from '../../query/event-filter.js'
import type { CursorPosition } from '../store.js'

/** One stored row as either SQLite driver returns it: epoch-ms integers, 0/1 booleans, JSON text. */
export type AuditRow = Omit<AuditEvent, 'occurred_at' | 'received_at' | 'category' | 'success' | 'metadata' | 'targets' | 'changes' | 'sealed'> & {
  occurred_at: number
  received_at: number
  category: string
  success: number
  metadata: string
  /** JSON text, or null when absent. */
  targets: string | null
  changes: string | null
  sealed: string | null
}

const COLUMNS = EVENT_FIELDS.join(', ')

/**
 * The columns and values an insert writes: every event field, then the canonical form its hash is
 * taken over, as a constant (the column's default stays 1, so a process of an older version
 * inserting after the migration marks its rows as the auditq.v1 it hashed them under).
 */
export const INSERT_COLUMNS = `${COLUMNS}, canonical_version`
export const INSERT_VALUES = `${EVENT_FIELDS.map((f) => `@${f}`).join(', ')}, ${CURRENT_CANONICAL_VERSION}`

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T)
}

/**
 * `ON CONFLICT (tenant_id, id) DO NOTHING` (ids are unique per tenant), not `INSERT OR IGNORE`:
 * OR IGNORE also skips rows that break a CHECK or NOT NULL constraint, so a malformed event would
 * be counted as a duplicate and lost silently instead of failing the batch as a `data` error.
 */
/**
 * The search tokens of the row just inserted (by its rowid), space-separated: FTS5 splits them back
 * exactly. OR REPLACE: an entry already under that rowid belongs to a row deleted without the
 * delete trigger (someone with the file dropped it), and must not stay attached to the new row.
 */
export const INSERT_FTS_SQL = 'INSERT OR REPLACE INTO audit_logs_fts (rowid, doc) VALUES (?, ?)'

export const INSERT_SQL = `INSERT INTO audit_logs (${INSERT_COLUMNS}) VALUES (${INSERT_VALUES})
  ON CONFLICT (tenant_id, id) DO NOTHING`

/**
 * Without a tenant bound (open mode, or an admin key) an id may name one event in each of several
 * tenants (ids are unique per tenant, migration 4): the newest by occurred_at is returned, ties
 * broken by tenant_id, so the answer is deterministic. With a tenant bound it is exact.
 */
export const SELECT_BY_ID_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = ? ORDER BY occurred_at DESC, tenant_id LIMIT 1`
export const SELECT_BY_ID_AND_TENANT_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = ? AND tenant_id = ?`

/** Throws on anything `Date.parse` cannot read, rather than storing or comparing against NaN. */
export function toEpochMs(iso: string, field: string): number {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) throw new RangeError(`${field}: not an ISO-8601 timestamp: ${JSON.stringify(iso)}`)
  return ms
}

/**
 * Every field written out, not `{ ...event }`: a spread copy gets an object shape of its own, and
 * adding the chain fields to ~500 of those per batch cost ~7 µs per row (profiled), more than
 * hashing the event. Every row built here shares one shape, so the chained insert's three extra
 * fields follow one cached transition.
 */
export function toRow(event: AuditEvent): AuditRow {
  return {
    id: event.id,
    tenant_id: event.tenant_id,
    occurred_at: toEpochMs(event.occurred_at, 'occurred_at'),
    received_at: toEpochMs(event.received_at, 'received_at'),
    action: event.action,
    category: event.category,
    actor_id: event.actor_id,
    actor_type: event.actor_type,
    resource_type: event.resource_type,
    resource_id: event.resource_id,
    success: event.success ? 1 : 0,
    error_message: event.error_message,
    description: event.description,
    ip_address: event.ip_address,
    user_agent: event.user_agent,
    session_id: event.session_id,
    request_id: event.request_id,
    client_id: event.client_id,
    metadata: JSON.stringify(event.metadata),
    // `?? null`: an event encoded before these fields existed (an old queue entry) lacks them.
    actor_name: event.actor_name ?? null,
    targets: jsonOrNull(event.targets),
    changes: jsonOrNull(event.changes),
    producer_id: event.producer_id ?? null,
    producer_seq: event.producer_seq ?? null,
    subject_index: event.subject_index ?? null,
    sealed: jsonOrNull(event.sealed),
  }
}

export function fromRow(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    occurred_at: new Date(row.occurred_at).toISOString(),
    received_at: new Date(row.received_at).toISOString(),
    action: row.action,
    // The CHECK constraint guarantees the value; the cast only tells TypeScript.
    category: row.category as Category,
    actor_id: row.actor_id,
    actor_type: row.actor_type,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    success: row.success === 1,
    error_message: row.error_message,
    description: row.description,
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    session_id: row.session_id,
    request_id: row.request_id,
    client_id: row.client_id,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    actor_name: row.actor_name,
    targets: parseOrNull(row.targets),
    changes: parseOrNull(row.changes),
    producer_id: row.producer_id,
    // A driver in BigInt mode would return one; the validator bounds the value to a safe integer.
    producer_seq: row.producer_seq === null ? null : Number(row.producer_seq),
    subject_index: row.subject_index,
    sealed: parseOrNull(row.sealed),
  }
}

export interface SelectStatement {
  /** Depends only on which filters are set (and `success`), never on other values, so it can key a statement cache. */
  sql: string
  params: Array<string | number>
}

const EQUALITY_FILTERS = ['tenant_id', 'actor_id', 'action', 'category', 'resource_type', 'resource_id'] as const

/**
 * Newest first; `(occurred_at, id) < (?, ?)` is the keyset condition, which SQLite answers as a
 * range on the `(occurred_at DESC, id DESC)` index (checked with EXPLAIN QUERY PLAN).
 */
export function buildSelect(filter: EventFilter, after: CursorPosition | undefined, limit: number): SelectStatement {
  const { sql: whereSql, params } = buildWhere(filter, after)
  params.push(limit)
  return {
    sql: `SELECT ${COLUMNS} FROM audit_logs ${whereSql} ORDER BY occurred_at DESC, id DESC LIMIT ?`,
    params,
  }
}

/** The WHERE clause (or '') for a filter and an optional keyset position; shared by reads, reports and the D1 queries. */
export function buildWhere(filter: EventFilter, after?: CursorPosition): SelectStatement {
  const where: string[] = []
  const params: Array<string | number> = []
  for (const field of EQUALITY_FILTERS) {
    const value = filter[field]
    if (value === undefined) continue
    where.push(`${field} = ?`)
    params.push(value)
  }
  if (filter.subject !== undefined) {
    // The field name is spliced: checked against the fixed list, never taken from a caller as is.
    if (!SUBJECT_MATCH_FIELDS.includes(filter.subject.field)) throw new Error(`not a subject field: ${filter.subject.field}`)
    where.push(`(${filter.subject.field} = ? OR subject_index = ?)`)
    params.push(filter.subject.value, filter.subject.index)
  }
  if (filter.resource_types !== undefined) {
    // An empty list matches nothing (`IN ()` is not SQL); the count shapes the text, so the statement cache keys on it.
    where.push(filter.resource_types.length === 0 ? '0' : `resource_type IN (${filter.resource_types.map(() => '?').join(', ')})`)
    params.push(...filter.resource_types)
  }
  if (filter.success !== undefined) {
    // A literal, not a parameter: only then can SQLite prove the partial failures index applies.
    where.push(filter.success ? 'success = 1' : 'success = 0')
  }
  if (filter.from !== undefined) {
    where.push('occurred_at >= ?')
    params.push(toEpochMs(filter.from, 'from'))
  }
  if (filter.to !== undefined) {
    where.push('occurred_at < ?')
    params.push(toEpochMs(filter.to, 'to'))
  }
  if (filter.search !== undefined) {
    where.push('rowid IN (SELECT rowid FROM audit_logs_fts WHERE audit_logs_fts MATCH ?)')
    params.push(toFts5(filter.search))
  }
  if (after !== undefined) {
    where.push('(occurred_at, id) < (?, ?)')
    params.push(toEpochMs(after.occurred_at, 'after.occurred_at'), after.id)
  }
  return { sql: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', params }
}
