/**
 * Reads over D1 with the Node service's semantics: the same `EventFilter` (all conditions ANDed,
 * `from` inclusive, `to` exclusive), newest first, keyset pages on `(occurred_at, id)` with the
 * same opaque cursors as `GET /v1/events`. The SQL is the embedded store's, since the schema is.
 */
import { AuditqError } from '../../errors.js'
import type { AuditEvent, FieldError } from '../../event/types.js'
import { badRequest, parseEventFilter, single } from '../../query/filter.js'
import { decodeCursor, encodeCursor } from '../../store/cursor.js'
import { SELECT_BY_ID_AND_TENANT_SQL, SELECT_BY_ID_SQL, buildSelect, fromRow, type AuditRow } from '../../store/embedded/sql.js'
import type { EventFilter } from '../../query/event-filter.js'
import type { D1Database } from '../bindings.js'

export const DEFAULT_PAGE_LIMIT = 100
export const MAX_PAGE_LIMIT = 1000

export interface EventPage {
  events: AuditEvent[]
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null
}

export async function queryEvents(db: D1Database, filter: EventFilter, page: { limit?: number; cursor?: string } = {}): Promise<EventPage> {
  const limit = page.limit ?? DEFAULT_PAGE_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', `limit: must be an integer from 1 to ${MAX_PAGE_LIMIT}`)
  }
  const after = page.cursor ? decodeCursor(page.cursor) : undefined
  const { sql, params } = buildSelect(filter, after, limit + 1)
  const { results } = await db.prepare(sql).bind(...params).all<AuditRow>()
  const events = results.slice(0, limit).map(fromRow)
  const last = events.at(-1)
  const more = results.length > limit && last !== undefined
  return { events, next_cursor: more ? encodeCursor({ occurred_at: last.occurred_at, id: last.id }) : null }
}

export async function getEvent(db: D1Database, id: string, scope: Pick<EventFilter, 'tenant_id'> = {}): Promise<AuditEvent | null> {
  const statement =
    scope.tenant_id === undefined
      ? db.prepare(SELECT_BY_ID_SQL).bind(id.toLowerCase())
      : db.prepare(SELECT_BY_ID_AND_TENANT_SQL).bind(id.toLowerCase(), scope.tenant_id)
  const row = await statement.first<AuditRow>()
  return row ? fromRow(row) : null
}

export interface ParsedEventQuery {
  filter: EventFilter
  limit: number
  cursor?: string
}

/**
 * Reads `GET /v1/events`-style parameters exactly as the Node service does (unknown parameters,
 * repeated ones and bad values are an `AUDITQ_BAD_REQUEST` naming each field), so a Worker can
 * expose the same query API. `extraKeys` are parameters the caller handles itself.
 */
export function parseEventQuery(params: URLSearchParams, extraKeys: readonly string[] = []): ParsedEventQuery {
  const raw: Record<string, unknown> = {}
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key)
    raw[key] = values.length === 1 ? values[0] : values
  }
  const filter = parseEventFilter(raw, ['limit', 'cursor', ...extraKeys])
  const errors: FieldError[] = []
  const limitText = single(raw, 'limit', errors)
  const cursor = single(raw, 'cursor', errors)
  let limit = DEFAULT_PAGE_LIMIT
  if (limitText !== undefined) {
    limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN
    if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT)) {
      errors.push({ field: 'limit', rule: 'range', message: `must be an integer from 1 to ${MAX_PAGE_LIMIT}` })
    }
  }
  if (errors.length > 0) throw badRequest(errors)
  return cursor ? { filter, limit, cursor } : { filter, limit }
}
