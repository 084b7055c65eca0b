/**
 * The completeness check's reads for PostgreSQL. Islands come from the producer runs the insert
 * trigger records (producer-runs-sql.ts), merged per producer; before reading, the runs of
 * producers that have some to merge are compacted, so the table stays about one row per island.
 */
import type pg from 'pg'
import type { Logger } from '../../util/logger.js'
import { ACCOUNTING_ACTIONS, readAccounting, type AccountingRecord } from '../../completeness/accounting.js'
import type { Island } from '../../completeness/compute.js'
import type { CompletenessFilter, CompletenessSource } from '../../completeness/source.js'
import { islandsSql } from '../producer-runs-merge.js'
import { COMPACT_SQL } from './producer-runs-sql.js'

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
  constructor(
    private readonly pool: pg.Pool,
    private readonly logger?: Logger,
  ) {}

  async producerIslands(filter: CompletenessFilter): Promise<Island[]> {
    // Compaction only shrinks what the read merges anyway, so a connection that may not write
    // (a read-only role) still gets exact islands; the read then merges more rows. Said, not
    // hidden: a table that never compacts makes every check slower.
    await this.pool.query(COMPACT_SQL).catch((error: Error) =>
      this.logger?.warn({ err_message: error.message }, 'producer runs not compacted; the completeness check read them as they are'),
    )
    const values: unknown[] = []
    const { rows } = await this.pool.query<{ producer_id: string; first: string; last: string; first_received_at: Date }>(
      islandsSql(`true${where(filter, values, 'producer_id')}`),
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
