/**
 * Retention in the partitioned layout: a partition whose every row the run's rules delete is
 * dropped whole; what is left below the cutoffs goes in chunks by occurred_at. Neither walks the
 * chain's link rows, which is what makes a run cost the few partitions it cannot drop rather
 * than every event it removes (bench/partitions.ts).
 *
 * What stands in for "seq <= the cut": the run takes a mark (the oldest transaction still running)
 * before it counts candidates, and removes only rows whose inserting transaction is older than
 * the mark. Such a row was visible to the count, so for a tenant whose cut is not lowered by the
 * archive its seq is at most the cut's; a row committed later (a late event landing in an old
 * partition) is left alone, and keeps the partition it is in. PostgreSQL's `age(xmin)` gives the
 * distance; frozen rows are the oldest of all.
 */
import type pg from 'pg'
import type { HoldMatch } from '../../integrity/types.js'
import type { PartitionInfo } from './partition-layout.js'

export interface PartitionPlan {
  tenant_id: string
  cutoff: string
  keep_actions: readonly string[]
  holds?: readonly HoldMatch[] | undefined
}

/** The plans as rows ($1), joined to each event by tenant. */
const PLANS = `plans AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS p(tenant_id text, cutoff timestamptz, keep_actions text[], holds jsonb)
  )`

/** True when the plan of the row's tenant deletes it and it was committed before the mark ($2 = transactions since). */
const REMOVABLE = `(p.tenant_id IS NOT NULL AND a.occurred_at < p.cutoff AND NOT (a.action = ANY(p.keep_actions)) AND age(a.xmin) > $2::bigint
    AND (p.holds IS NULL OR NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset(p.holds) AS h(actor_id text, resource_type text, resource_id text)
      WHERE (h.actor_id IS NULL OR h.actor_id = a.actor_id)
        AND (h.resource_type IS NULL OR (h.resource_type = a.resource_type AND h.resource_id = a.resource_id)))))`

const CHECK_PARTITION_SQL = (name: string) => `WITH ${PLANS}
  SELECT a.tenant_id, count(*) AS n, count(*) FILTER (WHERE NOT ${REMOVABLE}) AS kept
  FROM ${name} a LEFT JOIN plans p ON p.tenant_id = a.tenant_id GROUP BY a.tenant_id`

/** One chunk below the newest cutoff ($3), from occurred_at $4 on, at most $5 rows. */
const DELETE_CHUNK_SQL = `WITH ${PLANS}, victims AS (
    SELECT a.tenant_id, a.id, a.occurred_at FROM audit_logs a JOIN plans p ON p.tenant_id = a.tenant_id
    WHERE a.occurred_at < $3::timestamptz AND a.occurred_at >= $4::timestamptz AND ${REMOVABLE}
    ORDER BY a.occurred_at LIMIT $5
  ), gone AS (
    DELETE FROM audit_logs a USING victims v
    WHERE a.occurred_at = v.occurred_at AND a.tenant_id = v.tenant_id AND a.id = v.id
    RETURNING a.tenant_id, a.occurred_at
  )
  SELECT tenant_id, count(*) AS n, max(occurred_at) AS last FROM gone GROUP BY tenant_id`

export class PartitionRetention {
  constructor(
    private readonly pool: pg.Pool,
    private readonly list: () => Promise<PartitionInfo[]>,
    private readonly settings: { dropLockTimeoutMs: number },
  ) {}

  /** The oldest transaction in progress now, as an xid8: everything older has committed or aborted. */
  async mark(): Promise<string> {
    const { rows } = await this.pool.query<{ mark: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS mark')
    return rows[0]!.mark
  }

  /** Rows removed per tenant: whole partitions first, then chunks of what remains below the cutoffs. */
  async apply(plans: readonly PartitionPlan[], mark: string, chunkRows: number, log?: (message: string, fields: object) => void): Promise<Map<string, number>> {
    const removed = new Map<string, number>()
    const add = (tenant: string, n: number) => removed.set(tenant, (removed.get(tenant) ?? 0) + n)
    if (plans.length === 0) return removed
    const planJson = JSON.stringify(plans.map((p) => ({ ...p, holds: p.holds && p.holds.length > 0 ? p.holds : null })))
    const newestCutoff = plans.reduce((max, p) => Math.max(max, Date.parse(p.cutoff)), 0)
    for (const partition of await this.list()) {
      if (partition.isDefault || partition.to === null || partition.to > newestCutoff) continue
      const dropped = await this.dropIfCovered(partition.name, planJson, mark)
      if (dropped) {
        for (const [tenant, n] of dropped) add(tenant, n)
        log?.('retention: partition dropped', { partition: partition.name, rows: [...dropped.values()].reduce((s, n) => s + n, 0) })
      }
    }
    let after = new Date(0).toISOString()
    for (;;) {
      const chunk = await this.inTransaction(mark, async (client, lag) => {
        await client.query("SELECT set_config('auditq.retention', 'on', true)")
        const { rows } = await client.query<{ tenant_id: string; n: string; last: Date }>(DELETE_CHUNK_SQL, [
          planJson,
          lag,
          new Date(newestCutoff).toISOString(),
          after,
          chunkRows,
        ])
        return rows
      })
      let total = 0
      for (const row of chunk) {
        add(row.tenant_id, Number(row.n))
        total += Number(row.n)
        if (row.last.toISOString() > after) after = row.last.toISOString()
      }
      if (total < chunkRows) return removed
    }
  }

  /**
   * In one transaction: block inserts into the partition (SHARE), check every row in it is
   * removable, and drop it. DROP needs ACCESS EXCLUSIVE on audit_logs for a moment; behind a long
   * read it would make every insert queue behind it, so it waits at most `dropLockTimeoutMs` and
   * the partition is then left to the chunked delete.
   */
  private async dropIfCovered(name: string, planJson: string, mark: string): Promise<Map<string, number> | null> {
    try {
      return await this.inTransaction(mark, async (client, lag) => {
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${this.settings.dropLockTimeoutMs}ms`])
        await client.query(`LOCK TABLE ${name} IN SHARE MODE`)
        const { rows } = await client.query<{ tenant_id: string; n: string; kept: string }>(CHECK_PARTITION_SQL(name), [planJson, lag])
        if (rows.some((row) => Number(row.kept) > 0)) return null
        await client.query(`DROP TABLE ${name}`)
        return new Map(rows.map((row) => [row.tenant_id, Number(row.n)]))
      })
    } catch (error) {
      // 55P03: lock_timeout. Anything else is a real failure and fails the run.
      if ((error as { code?: string }).code === '55P03') return null
      throw error
    }
  }

  /**
   * `lag` is how many transactions separate this one from the mark. Taking an xid first matters:
   * age() measures from the transaction's own xid when it has one, fixed at its first call.
   */
  private async inTransaction<T>(mark: string, fn: (client: pg.PoolClient, lag: string) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<{ lag: string }>('SELECT (pg_current_xact_id()::text::numeric - $1::numeric)::bigint AS lag', [mark])
      const result = await fn(client, rows[0]!.lag)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      throw error
    } finally {
      client.release(broken)
    }
  }
}
