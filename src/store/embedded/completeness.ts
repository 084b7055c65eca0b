/**
 * The completeness check's reads for the embedded store: the same gaps-and-islands query as
 * PostgreSQL's (postgres/completeness.ts), in SQLite's dialect (window functions, epoch-ms times).
 */
import { ACCOUNTING_ACTIONS, readAccounting, type AccountingRecord } from '../../completeness/accounting.js'
import type { Island } from '../../completeness/compute.js'
import type { CompletenessFilter, CompletenessSource } from '../../completeness/source.js'
import type { SqliteDatabase } from './sqlite-driver.js'

function where(filter: CompletenessFilter, params: Array<string | number>, producerColumn: string): string {
  let sql = ''
  if (filter.tenant_id !== undefined) {
    sql += ' AND tenant_id = ?'
    params.push(filter.tenant_id)
  }
  if (filter.producer_id !== undefined) {
    sql += ` AND ${producerColumn} = ?`
    params.push(filter.producer_id)
  }
  return sql
}

export class EmbeddedCompleteness implements CompletenessSource {
  constructor(private readonly db: SqliteDatabase) {}

  async producerIslands(filter: CompletenessFilter): Promise<Island[]> {
    const params: Array<string | number> = []
    const rows = this.db
      .prepare<Array<string | number>, { producer_id: string; first: number; last: number; first_received_at: number }>(
        `SELECT producer_id, min(producer_seq) AS first, max(producer_seq) AS last, min(received_at) AS first_received_at
           FROM (SELECT producer_id, producer_seq, received_at,
                        producer_seq - dense_rank() OVER (PARTITION BY producer_id ORDER BY producer_seq) AS grp
                   FROM audit_logs WHERE producer_id IS NOT NULL${where(filter, params, 'producer_id')})
          GROUP BY producer_id, grp ORDER BY producer_id, first`,
      )
      .all(...params)
    return rows.map((row) => ({ producer_id: row.producer_id, first: Number(row.first), last: Number(row.last), first_received_at: new Date(Number(row.first_received_at)).toISOString() }))
  }

  async accountingRecords(filter: CompletenessFilter): Promise<AccountingRecord[]> {
    const params: Array<string | number> = [...ACCOUNTING_ACTIONS]
    const rows = this.db
      .prepare<Array<string | number>, { action: string; received_at: number; metadata: string }>(
        `SELECT action, received_at, metadata FROM audit_logs WHERE action IN (${ACCOUNTING_ACTIONS.map(() => '?').join(', ')})${where(filter, params, "json_extract(metadata, '$.producer_id')")}`,
      )
      .all(...params)
    return rows.flatMap((row) => readAccounting(row.action, new Date(Number(row.received_at)).toISOString(), JSON.parse(row.metadata) as Record<string, unknown>) ?? [])
  }
}
