/**
 * Runs a report's statements on one pooled client inside `BEGIN ISOLATION LEVEL REPEATABLE READ
 * READ ONLY`: every statement reads the snapshot taken by the first one, so the figures agree
 * with each other (a top list never counts an event the total missed) while inserts go on.
 * MVCC readers take no lock that blocks an INSERT; the open snapshot only holds back vacuum for
 * the report's duration (under a second at 1M events).
 */
import type pg from 'pg'
import type { CountedValue, ReportData, ReportOptions } from '../../report/model.js'
import { groupFailures, summarizeBuckets } from '../../report/rows.js'
import type { EventFilter } from '../../query/event-filter.js'
import { bucketCounts, failuresByAction, TOP_COLUMNS, topValues } from './report-sql.js'

/** count(*) is bigint, which node-postgres returns as a string: exact, converted once here. */
type Count = string

export async function postgresReport(pool: Pick<pg.Pool, 'connect'>, filter: EventFilter, options: ReportOptions): Promise<ReportData> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    // Local to this transaction; a cancelled statement is 57014, which the store calls transient.
    if (options.timeoutMs !== undefined) await client.query("SELECT set_config('statement_timeout', $1, true)", [`${options.timeoutMs}ms`])
    const buckets = await client.query<{ start: Date; total: Count; failures: Count; info: Count; warning: Count; critical: Count }>(
      bucketCounts(filter, options),
    )
    const top = async (column: (typeof TOP_COLUMNS)[number]): Promise<CountedValue[]> => {
      const { rows } = await client.query<{ value: string | null; count: Count }>(topValues(column, filter, options))
      return rows.map((row) => ({ value: row.value, count: Number(row.count) }))
    }
    // One after another: a client runs one statement at a time, and all must share the snapshot.
    const top_actors = await top('actor_id')
    const top_actions = await top('action')
    const top_resource_types = await top('resource_type')
    const failures = await client.query<{ action: string; failures: Count; error_message: string | null; n: Count }>(
      failuresByAction(filter, options),
    )
    await client.query('COMMIT')
    return {
      ...summarizeBuckets(
        buckets.rows.map((row) => ({
          start: row.start.toISOString(),
          total: Number(row.total),
          failures: Number(row.failures),
          info: Number(row.info),
          warning: Number(row.warning),
          critical: Number(row.critical),
        })),
      ),
      top_actors,
      top_actions,
      top_resource_types,
      failures_by_action: groupFailures(
        failures.rows.map((row) => ({ action: row.action, failures: Number(row.failures), error_message: row.error_message, count: Number(row.n) })),
      ),
    }
  } catch (error) {
    // Roll back to hand a clean connection back; if that fails too, the pool destroys it.
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
    throw error
  } finally {
    client.release(broken)
  }
}
