/**
 * Retention in the partitioned layout: a partition whose every row the run's rules delete is
 * dropped whole; what is left below the cutoffs goes in chunks by occurred_at. Neither walks the
 * chain's link rows, which is what makes a run cost the few partitions it cannot drop rather
 * than every event it removes (bench/partitions.ts).
 *
 * What stands in for "seq <= the cut": the run takes a mark (a snapshot) before it counts
 * candidates, and removes only rows whose inserting transaction that snapshot sees as committed.
 * Such a row was visible to the count, so for a tenant whose cut is not lowered by the archive
 * its seq is at most the cut's; a row committed later (a late event landing in an old partition)
 * is left alone, and keeps the partition it is in. A row's xmin is a 32-bit xid: it is widened to
 * the 64-bit xid8 the snapshot speaks by taking the epoch from a current xid8 ($3), which every
 * xmin in a live table lies within 2^31 of; a frozen xmin widens to a tiny xid8 the snapshot sees.
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

/** The row's xmin as an xid8, $3 a current xid8 as bigint. */
const XMIN8 = `((($3::bigint >> 32) << 32) + a.xmin::text::bigint
    - CASE WHEN a.xmin::text::bigint > ($3::bigint & 4294967295) THEN 4294967296 ELSE 0 END)::text::xid8`

/** True when the plan of the row's tenant deletes it and the mark ($2, a snapshot) saw it committed. */
const REMOVABLE = `(p.tenant_id IS NOT NULL AND a.occurred_at < p.cutoff AND NOT (a.action = ANY(p.keep_actions))
    AND pg_visible_in_snapshot(${XMIN8}, $2::pg_snapshot)
    AND (p.holds IS NULL OR NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset(p.holds) AS h(actor_id text, resource_type text, resource_id text)
      WHERE (h.actor_id IS NULL OR h.actor_id = a.actor_id)
        AND (h.resource_type IS NULL OR (h.resource_type = a.resource_type AND h.resource_id = a.resource_id)))))`

const CHECK_PARTITION_SQL = (name: string) => `WITH ${PLANS}
  SELECT a.tenant_id, count(*) AS n, count(*) FILTER (WHERE NOT ${REMOVABLE}) AS kept
  FROM ${name} a LEFT JOIN plans p ON p.tenant_id = a.tenant_id GROUP BY a.tenant_id`

/** One chunk below the newest cutoff ($4), from occurred_at $5 on, at most $6 rows. */
const DELETE_CHUNK_SQL = `WITH ${PLANS}, victims AS (
    SELECT a.tenant_id, a.id, a.occurred_at FROM audit_logs a JOIN plans p ON p.tenant_id = a.tenant_id
    WHERE a.occurred_at < $4::timestamptz AND a.occurred_at >= $5::timestamptz AND ${REMOVABLE}
    ORDER BY a.occurred_at LIMIT $6
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

  /** A snapshot of which transactions have committed, as text. */
  async mark(): Promise<string> {
    const { rows } = await this.pool.query<{ mark: string }>('SELECT pg_current_snapshot()::text AS mark')
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
      const chunk = await this.inTransaction(async (client, current) => {
        await client.query("SELECT set_config('auditq.retention', 'on', true)")
        const { rows } = await client.query<{ tenant_id: string; n: string; last: Date }>(DELETE_CHUNK_SQL, [
          planJson,
          mark,
          current,
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
      return await this.inTransaction(async (client, current) => {
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${this.settings.dropLockTimeoutMs}ms`])
        await client.query(`LOCK TABLE ${name} IN SHARE MODE`)
        const { rows } = await client.query<{ tenant_id: string; n: string; kept: string }>(CHECK_PARTITION_SQL(name), [planJson, mark, current])
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

  /** `current`: the next xid8 now, which fixes the epoch for widening xmin. */
  private async inTransaction<T>(fn: (client: pg.PoolClient, current: string) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<{ current: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS current')
      const result = await fn(client, rows[0]!.current)
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
