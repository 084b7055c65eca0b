/**
 * The report's statements for PostgreSQL. Pure: built from a filter and options, unit-testable
 * without a server. Every value is a bind parameter; the only text spliced in is a column name
 * from the fixed list below.
 *
 * Five statements rather than one: measured on 1M rows (bench/report-1m.ts, see BENCHMARKS.md), a
 * single `GROUPING SETS` statement took ~2.2 s (its sorts spilled to disk at the default work_mem,
 * and it cannot use parallel hash aggregation), while these five, each a parallel scan with a hash
 * aggregate, take ~0.4 s together. The store runs them in one REPEATABLE READ transaction so
 * they still describe one snapshot.
 */
import type { ReportOptions } from '../../report/model.js'
import type { EventFilter } from '../../query/event-filter.js'
import { buildWhere, type SqlStatement } from './sql.js'

/** The columns with a top-N list: fixed names, the only identifiers spliced into report SQL. */
export const TOP_COLUMNS = ['actor_id', 'action', 'resource_type'] as const

/**
 * The bucket expressions, spelled exactly as migration 20's extended statistics are, so the
 * planner knows a month holds 30 days (720 hours) instead of guessing one group per row. With the
 * guess it sorted 1M rows on disk (650 ms); with the statistics it runs a parallel hash aggregate
 * (~100 ms). A bind parameter for the interval would hide the match, hence literals from this map.
 */
export const BUCKET_EXPRESSIONS = {
  hour: "date_bin('1 hour'::interval, occurred_at, '1970-01-01 00:00:00+00'::timestamptz)",
  day: "date_bin('1 day'::interval, occurred_at, '1970-01-01 00:00:00+00'::timestamptz)",
} as const

/**
 * Per-bucket counts, from which the totals, the categories and the timeline all derive, so those
 * can never disagree with each other. `date_bin` from the Unix epoch gives UTC hours and days
 * whatever the session's TimeZone (and measured 2–3× faster than `date_trunc(…, 'UTC')`).
 */
export function bucketCounts(filter: EventFilter, options: ReportOptions): SqlStatement {
  const where = buildWhere(filter)
  return {
    text: `SELECT ${BUCKET_EXPRESSIONS[options.bucket]} AS start,
      count(*) AS total,
      count(*) FILTER (WHERE NOT success) AS failures,
      count(*) FILTER (WHERE category = 'info') AS info,
      count(*) FILTER (WHERE category = 'warning') AS warning,
      count(*) FILTER (WHERE category = 'critical') AS critical
    FROM audit_logs ${where.text}
    GROUP BY 1 ORDER BY 1`,
    values: where.values,
  }
}

/**
 * The N most frequent values of one column. Ties break on the value in byte order (COLLATE "C",
 * independent of the database's locale, and what SQLite's BINARY does), absent values last.
 */
export function topValues(column: (typeof TOP_COLUMNS)[number], filter: EventFilter, options: ReportOptions): SqlStatement {
  const where = buildWhere(filter)
  const values = [...where.values, options.topN]
  return {
    text: `SELECT ${column} AS value, count(*) AS count FROM audit_logs ${where.text}
    GROUP BY ${column} ORDER BY count DESC, ${column} COLLATE "C" NULLS LAST LIMIT $${values.length}`,
    values,
  }
}

/**
 * The N actions with the most failures, each with its K most frequent error messages, in one
 * statement: failures are few, and the partial `WHERE NOT success` index finds them by time.
 * Rows come out ordered by action rank, then error rank.
 */
export function failuresByAction(filter: EventFilter, options: ReportOptions): SqlStatement {
  const where = buildWhere(filter)
  const values = [...where.values, options.topN, options.topErrors]
  const topN = `$${values.length - 1}`
  const topErrors = `$${values.length}`
  const conditions = where.text ? `${where.text} AND NOT success` : 'WHERE NOT success'
  return {
    text: `WITH errors AS (
      SELECT action, error_message, count(*) AS n FROM audit_logs ${conditions} GROUP BY action, error_message
    ), actions AS (
      SELECT action, sum(n) AS failures FROM errors GROUP BY action ORDER BY failures DESC, action COLLATE "C" LIMIT ${topN}
    ), ranked AS (
      SELECT e.action, a.failures, e.error_message, e.n,
        row_number() OVER (PARTITION BY e.action ORDER BY e.n DESC, e.error_message COLLATE "C" NULLS LAST) AS rank
      FROM errors e JOIN actions a USING (action)
    )
    SELECT action, failures, error_message, n, rank FROM ranked WHERE rank <= ${topErrors}
    ORDER BY failures DESC, action COLLATE "C", rank`,
    values,
  }
}
