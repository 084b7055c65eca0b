/**
 * The report's statements for SQLite: the same five as PostgreSQL's (see
 * ../postgres/report-sql.ts), in SQLite's dialect. Timestamps are epoch milliseconds, so a UTC
 * bucket is integer division; BINARY collation already compares strings in byte order.
 */
import { BUCKET_MS, type ReportOptions } from '../../report/model.js'
import type { EventFilter } from '../../query/event-filter.js'
import { buildWhere, type SelectStatement } from './sql.js'

export const TOP_COLUMNS = ['actor_id', 'action', 'resource_type'] as const

export function bucketCounts(filter: EventFilter, options: ReportOptions): SelectStatement {
  const where = buildWhere(filter)
  const step = BUCKET_MS[options.bucket]
  return {
    // Events are stored from 1970 on, so occurred_at >= 0 and integer `/` truncates to the bucket
    // start. The step is spliced as an integer literal (it comes from BUCKET_MS, never a caller):
    // Both SQLite drivers bind a JS number as REAL, which would make the division fractional.
    sql: `SELECT (occurred_at / ${step}) * ${step} AS start,
      count(*) AS total,
      count(*) FILTER (WHERE success = 0) AS failures,
      count(*) FILTER (WHERE category = 'info') AS info,
      count(*) FILTER (WHERE category = 'warning') AS warning,
      count(*) FILTER (WHERE category = 'critical') AS critical
    FROM audit_logs ${where.sql}
    GROUP BY 1 ORDER BY 1`,
    params: where.params,
  }
}

export function topValues(column: (typeof TOP_COLUMNS)[number], filter: EventFilter, options: ReportOptions): SelectStatement {
  const where = buildWhere(filter)
  return {
    sql: `SELECT ${column} AS value, count(*) AS count FROM audit_logs ${where.sql}
    GROUP BY ${column} ORDER BY count DESC, ${column} NULLS LAST LIMIT ?`,
    params: [...where.params, options.topN],
  }
}

export function failuresByAction(filter: EventFilter, options: ReportOptions): SelectStatement {
  const where = buildWhere(filter)
  // A literal, like buildWhere's, so SQLite can use the partial failures index.
  const conditions = where.sql ? `${where.sql} AND success = 0` : 'WHERE success = 0'
  return {
    sql: `WITH errors AS (
      SELECT action, error_message, count(*) AS n FROM audit_logs ${conditions} GROUP BY action, error_message
    ), actions AS (
      SELECT action, sum(n) AS failures FROM errors GROUP BY action ORDER BY failures DESC, action LIMIT ?
    ), ranked AS (
      SELECT e.action, a.failures, e.error_message, e.n,
        row_number() OVER (PARTITION BY e.action ORDER BY e.n DESC, e.error_message NULLS LAST) AS rank
      FROM errors e JOIN actions a USING (action)
    )
    SELECT action, failures, error_message, n AS count FROM ranked WHERE rank <= ?
    ORDER BY failures DESC, action, rank`,
    params: [...where.params, options.topN, options.topErrors],
  }
}
