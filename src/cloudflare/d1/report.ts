/**
 * Report figures over D1 for one `EventFilter`: totals and success rate, per category, top
 * actors / actions / resource types, failures by action with their top error messages, and a
 * timeline by hour or day. All queries run in one `db.batch` (one transaction), so the figures
 * agree with each other even while events keep arriving.
 *
 * The result shape is auditq-on-Workers' own and deliberately flat (documented in docs/cloudflare.md);
 * timestamps are ISO-8601 UTC, counts are integers, `success_rate` is null when nothing matched.
 */
import { buildWhere } from '../../store/embedded/sql.js'
import type { EventFilter } from '../../query/event-filter.js'
import type { D1Database } from '../bindings.js'

export interface ReportOptions {
  /** Entries in each top list (default 10, at most 100). */
  top?: number
  /** Error messages kept per failing action (default 3, at most 20). */
  topErrors?: number
  /** Timeline bucket; default `hour` when the filter spans at most 7 days, else `day`. */
  interval?: 'hour' | 'day'
}

export interface Ranked {
  value: string
  count: number
}

export interface D1Report {
  filter: EventFilter
  total: number
  successes: number
  failures: number
  success_rate: number | null
  by_category: { info: number; warning: number; critical: number }
  top_actors: Ranked[]
  top_actions: Ranked[]
  top_resource_types: Ranked[]
  failures_by_action: { action: string; count: number; top_errors: { message: string | null; count: number }[] }[]
  timeline: { interval: 'hour' | 'day'; buckets: { start: string; total: number; failures: number }[] }
}

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

export async function reportEvents(db: D1Database, filter: EventFilter, options: ReportOptions = {}): Promise<D1Report> {
  const top = clamp(options.top ?? 10, 1, 100)
  const topErrors = clamp(options.topErrors ?? 3, 1, 20)
  const interval = options.interval ?? defaultInterval(filter)
  const bucketMs = interval === 'hour' ? HOUR_MS : DAY_MS
  const { sql: where, params } = buildWhere(filter)
  const and = (condition: string) => (where ? `${where} AND ${condition}` : `WHERE ${condition}`)
  const ranked = (column: string) =>
    db
      .prepare(`SELECT ${column} AS value, count(*) AS count FROM audit_logs ${and(`${column} IS NOT NULL`)} GROUP BY ${column} ORDER BY count DESC, value LIMIT ?`)
      .bind(...params, top)

  const [totals, actors, actions, resourceTypes, failedActions, failedMessages, timeline] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `SELECT count(*) AS total, coalesce(sum(success), 0) AS successes,
                coalesce(sum(category = 'info'), 0) AS info, coalesce(sum(category = 'warning'), 0) AS warning,
                coalesce(sum(category = 'critical'), 0) AS critical
           FROM audit_logs ${where}`,
      )
      .bind(...params),
    ranked('actor_id'),
    ranked('action'),
    ranked('resource_type'),
    db
      .prepare(`SELECT action, count(*) AS count FROM audit_logs ${and('success = 0')} GROUP BY action ORDER BY count DESC, action LIMIT ?`)
      .bind(...params, top),
    db
      .prepare(
        `SELECT action, message, count FROM (
           SELECT action, error_message AS message, count(*) AS count,
                  row_number() OVER (PARTITION BY action ORDER BY count(*) DESC, error_message) AS rank
             FROM audit_logs ${and('success = 0')}
            GROUP BY action, error_message)
          WHERE rank <= ?`,
      )
      .bind(...params, topErrors),
    db
      .prepare(
        `SELECT (occurred_at / ${bucketMs}) * ${bucketMs} AS start, count(*) AS total, count(*) - sum(success) AS failures
           FROM audit_logs ${where} GROUP BY start ORDER BY start`,
      )
      .bind(...params),
  ])

  const t = (totals?.results[0] ?? {}) as Record<string, number>
  const total = Number(t.total ?? 0)
  const successes = Number(t.successes ?? 0)
  const messages = new Map<string, { message: string | null; count: number }[]>()
  for (const row of rows<{ action: string; message: string | null; count: number }>(failedMessages)) {
    const list = messages.get(row.action) ?? []
    list.push({ message: row.message, count: row.count })
    messages.set(row.action, list)
  }
  return {
    filter,
    total,
    successes,
    failures: total - successes,
    success_rate: total === 0 ? null : successes / total,
    by_category: { info: Number(t.info ?? 0), warning: Number(t.warning ?? 0), critical: Number(t.critical ?? 0) },
    top_actors: rows<Ranked>(actors),
    top_actions: rows<Ranked>(actions),
    top_resource_types: rows<Ranked>(resourceTypes),
    failures_by_action: rows<{ action: string; count: number }>(failedActions).map((row) => ({
      action: row.action,
      count: row.count,
      top_errors: messages.get(row.action) ?? [],
    })),
    timeline: {
      interval,
      buckets: rows<{ start: number; total: number; failures: number }>(timeline).map((row) => ({
        start: new Date(row.start).toISOString(),
        total: row.total,
        failures: row.failures,
      })),
    },
  }
}

function rows<Row>(result: { results: unknown[] } | undefined): Row[] {
  return (result?.results ?? []) as Row[]
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.trunc(value)))
}

/** Hourly buckets for a bounded window of a week or less; daily otherwise (an open range may span years). */
function defaultInterval(filter: EventFilter): 'hour' | 'day' {
  if (filter.from === undefined || filter.to === undefined) return 'day'
  return Date.parse(filter.to) - Date.parse(filter.from) <= 7 * DAY_MS ? 'hour' : 'day'
}
