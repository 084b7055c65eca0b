/**
 * The completeness check's reads for PostgreSQL. Islands by gaps-and-islands: within a producer,
 * `seq - dense_rank()` is constant along a run of consecutive numbers, so grouping by it yields
 * each run's bounds in one ordered pass over the (producer_id, producer_seq) index (dense_rank, so
 * a number stored twice — the same producer id reused without its sequence — is not a false run).
 */
import type pg from 'pg'
import { ACCOUNTING_ACTIONS, readAccounting, type AccountingRecord } from '../../completeness/accounting.js'
import type { Island } from '../../completeness/compute.js'
import type { CompletenessFilter, CompletenessSource } from '../../completeness/source.js'

function where(filter: CompletenessFilter, values: unknown[], producerColumn: string): string {
  const conditions: string[] = []
  if (filter.tenant_id !== undefined) {
    values.push(filter.tenant_id)
    conditions.push(`tenant_id = $${values.length}`)
  }
  if (filter.producer_id !== undefined) {
    values.push(filter.producer_id)
    conditions.push(`${producerColumn} = $${values.length}`)
  }
  return conditions.map((c) => ` AND ${c}`).join('')
}

export class PostgresCompleteness implements CompletenessSource {
  constructor(private readonly pool: pg.Pool) {}

  async producerIslands(filter: CompletenessFilter): Promise<Island[]> {
    const values: unknown[] = []
    const { rows } = await this.pool.query<{ producer_id: string; first: string; last: string; first_received_at: Date }>(
      `SELECT producer_id, min(producer_seq) AS first, max(producer_seq) AS last, min(received_at) AS first_received_at
         FROM (SELECT producer_id, producer_seq, received_at,
                      producer_seq - dense_rank() OVER (PARTITION BY producer_id ORDER BY producer_seq) AS grp
                 FROM audit_logs WHERE producer_id IS NOT NULL${where(filter, values, 'producer_id')}) s
        GROUP BY producer_id, grp ORDER BY producer_id, first`,
      values,
    )
    return rows.map((row) => ({ producer_id: row.producer_id, first: Number(row.first), last: Number(row.last), first_received_at: row.first_received_at.toISOString() }))
  }

  async accountingRecords(filter: CompletenessFilter): Promise<AccountingRecord[]> {
    const values: unknown[] = [ACCOUNTING_ACTIONS]
    const { rows } = await this.pool.query<{ action: string; received_at: Date; metadata: Record<string, unknown> }>(
      `SELECT action, received_at, metadata FROM audit_logs WHERE action = ANY ($1::text[])${where(filter, values, "metadata->>'producer_id'")}`,
      values,
    )
    return rows.flatMap((row) => readAccounting(row.action, row.received_at.toISOString(), row.metadata) ?? [])
  }
}
