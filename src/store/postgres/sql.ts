/**
 * SQL text, row mapping and WHERE building for the PostgreSQL store. Pure: no connection, so it is
 * unit-tested without a server and shared with bench/pg-insert-methods.ts.
 *
 * Every value travels as a bind parameter. The only text spliced into SQL is fixed here (column
 * names, `success` as a keyword) and never comes from a caller.
 */
import { searchTokens } from '../../query/search/document.js'
import { toTsquery, toTsvector } from '../../query/search/syntax.js'
import { EVENT_FIELDS, type AuditEvent, type Category } from '../../event/types.js'
import { CURRENT_CANONICAL_VERSION } from '../../integrity/canonical-version.js'
import { SUBJECT_MATCH_FIELDS, type EventFilter, type SubjectMatch } from '../../query/event-filter.js'
import type { CursorPosition } from '../store.js'

/** One row as node-postgres returns it with its default type parsers. */
export type AuditRow = Omit<AuditEvent, 'occurred_at' | 'received_at' | 'category' | 'producer_seq'> & {
  /** bigint arrives as text (node-postgres keeps integers past 2^53 exact); the validator bounds it to a safe integer. */
  producer_seq: string | null
  /** timestamptz → Date; the session runs with TimeZone=UTC, and Date keeps the stored ms exactly. */
  occurred_at: Date
  received_at: Date
  category: string
  // ip_address: inet has no parser in node-postgres, so it arrives as the server's own text form
  // (`192.0.2.10`, `2001:db8::1`); metadata: jsonb arrives parsed.
}

/** The PostgreSQL type of each column, in EVENT_FIELDS order; the unnest insert casts by it. */
export const COLUMN_TYPES = {
  id: 'uuid',
  tenant_id: 'text',
  occurred_at: 'timestamptz',
  received_at: 'timestamptz',
  action: 'text',
  category: 'text',
  actor_id: 'text',
  actor_type: 'text',
  resource_type: 'text',
  resource_id: 'text',
  success: 'boolean',
  error_message: 'text',
  description: 'text',
  ip_address: 'inet',
  user_agent: 'text',
  session_id: 'text',
  request_id: 'text',
  client_id: 'text',
  metadata: 'jsonb',
  actor_name: 'text',
  targets: 'jsonb',
  changes: 'jsonb',
  producer_id: 'text',
  producer_seq: 'bigint',
  subject_index: 'text',
  sealed: 'jsonb',
} as const satisfies Record<(typeof EVENT_FIELDS)[number], string>

export const COLUMNS = EVENT_FIELDS.join(', ')

/**
 * The columns an insert writes: every event field, the search document (derived, not hashed), then
 * the canonical form its hash is taken over.
 */
export const INSERT_COLUMNS = `${COLUMNS}, search, canonical_version`

/**
 * The SELECT list feeding an insert from one array parameter per event field and one of search
 * documents (parameter `searchParam`): each row gets the
 * current canonical version as a constant. Written explicitly (the column's default stays 1) so a
 * process of an older version still inserting after the migration marks its rows as auditq.v1,
 * which is what it hashed them under.
 */
export function unnestSource(searchParam: number): string {
  return `SELECT *, ${CURRENT_CANONICAL_VERSION}::smallint FROM unnest(${EVENT_FIELDS.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')}, $${searchParam}::tsvector[])`
}

const JSONB_FIELDS = new Set<string>(EVENT_FIELDS.filter((field) => COLUMN_TYPES[field] === 'jsonb'))

/**
 * The batch insert the store uses (chosen by bench/pg-insert-methods.ts, see docs/decisions.md):
 * one array parameter per column, so the statement text is constant whatever the batch size and
 * never nears the 65,535-parameter limit that multi-row VALUES must chunk around.
 *
 * `DO NOTHING` also absorbs the same id twice in one batch (only `DO UPDATE` refuses that), and
 * the second copy counts as a duplicate. Ids are unique per tenant (migration 4), so the target is
 * (tenant_id, id): the same id in another tenant is a different event, never a duplicate. The
 * conflict target is named so that only a repeated id is treated as idempotent: a conflict on any unique index added later must fail loudly rather
 * than be counted as a duplicate. CHECK and NOT NULL violations fail the statement either way.
 */
export const INSERT_UNNEST_SQL = `INSERT INTO audit_logs (${INSERT_COLUMNS})
  ${unnestSource(EVENT_FIELDS.length + 1)}
  ON CONFLICT (tenant_id, id) DO NOTHING`

/**
 * Sent as a named statement: node-postgres prepares it once per connection, so every later batch
 * skips parse and plan: 15–60% more events/s at batches of 1–10 in bench/pg-insert-methods.ts,
 * level from 100 up, where the server's work dominates. The text never changes with the batch
 * size, so one name per connection is enough.
 */
export const INSERT_UNNEST_NAME = 'auditq_insert_unnest'

/**
 * The same insert for the partitioned layout, whose parent has no (tenant_id, id) key to name as
 * the conflict target (each partition has its own): without a target, a conflict on the key of
 * the partition the row falls in is skipped.
 */
export const INSERT_UNNEST_PARTITIONED_SQL = INSERT_UNNEST_SQL.replace('ON CONFLICT (tenant_id, id) DO NOTHING', 'ON CONFLICT DO NOTHING')
export const INSERT_UNNEST_PARTITIONED_NAME = 'auditq_insert_unnest_partitioned'

/**
 * Column-wise array parameters for INSERT_UNNEST_SQL, in EVENT_FIELDS order (the search documents
 * go last, see searchParam), each already written as PostgreSQL's array literal text. Handing
 * node-postgres JS arrays made it escape every element with two global regex replacements and
 * type checks: about 10 % of a worker's CPU and of `log()`'s in direct mode (bench/e2e.ts
 * profiles). Here an element is scanned once and escaped only when it holds `"` or `\`.
 */
export function unnestParams(events: readonly AuditEvent[]): string[] {
  return EVENT_FIELDS.map((field) => {
    const json = JSONB_FIELDS.has(field)
    let literal = '{'
    for (let row = 0; row < events.length; row++) {
      if (row > 0) literal += ','
      // A null (or, from an event encoded before the field existed, a missing) value is SQL NULL,
      // not JSON null. jsonb is serialized here so that it stays exactly the JSON the caller sent.
      const value = events[row]![field] ?? null
      literal += value === null ? 'NULL' : arrayElement(json ? JSON.stringify(value) : value)
    }
    return literal + '}'
  })
}

const NEEDS_ESCAPE = /["\\]/
const ESCAPED = /["\\]/g

/** One element of an array literal: quoted, so commas, braces, spaces and the word NULL stay text. */
export function arrayElement(value: unknown): string {
  if (typeof value === 'boolean') return value ? 't' : 'f'
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  const text = String(value)
  return `"${NEEDS_ESCAPE.test(text) ? text.replace(ESCAPED, '\\$&') : text}"`
}

/** A text[] (or any array) literal of `values`, each element quoted as in unnestParams. */
export function arrayLiteral(values: readonly (string | null)[]): string {
  let literal = '{'
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ','
    const value = values[i]
    literal += value === null || value === undefined ? 'NULL' : arrayElement(value)
  }
  return literal + '}'
}

/** Every parameter of INSERT_UNNEST_SQL: the columns, then the search documents. */
export function insertParams(events: readonly AuditEvent[]): string[] {
  return [...unnestParams(events), searchParam(events)]
}

/** Each event's search document as a tsvector literal, for the `search` column (written by the insert itself). */
export function searchDocuments(events: readonly AuditEvent[]): string[] {
  return events.map((event) => toTsvector(searchTokens(event)))
}

/** The search documents as one array literal: the last parameter of the inserts. */
export function searchParam(events: readonly AuditEvent[]): string {
  return arrayLiteral(searchDocuments(events))
}

export function fromRow(row: AuditRow): AuditEvent {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    occurred_at: row.occurred_at.toISOString(),
    received_at: row.received_at.toISOString(),
    action: row.action,
    // The CHECK constraint guarantees the value; the cast only tells TypeScript.
    category: row.category as Category,
    actor_id: row.actor_id,
    actor_type: row.actor_type,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    success: row.success,
    error_message: row.error_message,
    description: row.description,
    ip_address: row.ip_address,
    user_agent: row.user_agent,
    session_id: row.session_id,
    request_id: row.request_id,
    client_id: row.client_id,
    metadata: row.metadata,
    actor_name: row.actor_name,
    targets: row.targets,
    changes: row.changes,
    producer_id: row.producer_id,
    producer_seq: row.producer_seq === null ? null : Number(row.producer_seq),
    subject_index: row.subject_index,
    sealed: row.sealed,
  }
}

export interface SqlStatement {
  text: string
  values: unknown[]
}

const EQUALITY_FILTERS = ['tenant_id', 'actor_id', 'action', 'category', 'resource_type', 'resource_id'] as const

/**
 * The WHERE clause for a filter and an optional keyset position, numbering parameters from $1.
 * `after` becomes `(occurred_at, id) < ($t, $id)`: a row comparison PostgreSQL answers as one
 * range on any index ending in `(occurred_at DESC, id DESC)`, so page 1,000 costs what page 1 does.
 */
export function buildWhere(filter: EventFilter, after?: CursorPosition): SqlStatement {
  const conditions: string[] = []
  const values: unknown[] = []
  const bind = (value: unknown, type: string) => {
    values.push(value)
    return `$${values.length}::${type}`
  }
  for (const field of EQUALITY_FILTERS) {
    const value = filter[field]
    if (value !== undefined) conditions.push(`${field} = ${bind(value, 'text')}`)
  }
  if (filter.subject !== undefined) conditions.push(subjectCondition(filter.subject, bind))
  if (filter.resource_types !== undefined) conditions.push(`resource_type = ANY(${bind([...filter.resource_types], 'text[]')})`)
  // A keyword, not a parameter, so the planner can match the partial `WHERE NOT success` index
  // even under a generic plan.
  if (filter.success !== undefined) conditions.push(filter.success ? 'success' : 'NOT success')
  if (filter.from !== undefined) conditions.push(`occurred_at >= ${bind(filter.from, 'timestamptz')}`)
  if (filter.to !== undefined) conditions.push(`occurred_at < ${bind(filter.to, 'timestamptz')}`)
  // The tsquery is built from [a-z0-9] tokens and cast, never parsed by a text-search dictionary.
  if (filter.search !== undefined) conditions.push(`search @@ ${bind(toTsquery(filter.search), 'tsquery')}`)
  if (after !== undefined) {
    conditions.push(`(occurred_at, id) < (${bind(after.occurred_at, 'timestamptz')}, ${bind(after.id, 'uuid')})`)
  }
  return { text: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values }
}

/** `field = value OR subject_index = index`; the field name is checked, never taken from a caller as is. */
function subjectCondition(subject: SubjectMatch, bind: (value: unknown, type: string) => string): string {
  if (!SUBJECT_MATCH_FIELDS.includes(subject.field)) throw new Error(`not a subject field: ${subject.field}`)
  return `(${subject.field} = ${bind(subject.value, 'text')} OR subject_index = ${bind(subject.index, 'text')})`
}

/** Newest first; `limit` omitted for `stream()`, which reads through a cursor instead. */
export function buildSelect(filter: EventFilter, after?: CursorPosition, limit?: number): SqlStatement {
  const where = buildWhere(filter, after)
  const values = [...where.values]
  let text = `SELECT ${COLUMNS} FROM audit_logs ${where.text} ORDER BY occurred_at DESC, id DESC`
  if (limit !== undefined) {
    values.push(limit)
    text += ` LIMIT $${values.length}`
  }
  return { text, values }
}
