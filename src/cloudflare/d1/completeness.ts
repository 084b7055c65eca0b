/**
 * The completeness check over D1, so a Worker can serve what `GET /v1/completeness` serves in
 * Node: `checkCompleteness(new D1Completeness(env.DB), filter, { inFlightBoundMs })`. The same
 * accounting records (rejections, heads, dead letters written by `handleAuditBatch`) and the same
 * pure computation (src/completeness/compute.ts); islands by one gaps-and-islands query over
 * `audit_logs`, whose producer index D1 keeps (D1 migration 3). The Node stores read producer runs
 * recorded at insert instead (their insert path is hot; a Worker's D1 writes are a request's
 * events, and D1 has no statement triggers). Times are epoch ms, as in the embedded store.
 */
import { readAccounting, type AccountingRecord } from '../../completeness/accounting.js'
import type { Island } from '../../completeness/compute.js'
import type { CompletenessFilter, CompletenessSource } from '../../completeness/source.js'
import { accountingSql, completenessWhere } from '../../store/embedded/completeness-sql.js'
import type { D1Database } from '../bindings.js'

export class D1Completeness implements CompletenessSource {
  constructor(private readonly db: D1Database) {}

  async producerIslands(filter: CompletenessFilter): Promise<Island[]> {
    const params: unknown[] = []
    const { results } = await this.db
      .prepare(
        `SELECT producer_id, min(producer_seq) AS first, max(producer_seq) AS last, min(received_at) AS first_received_at
           FROM (SELECT producer_id, producer_seq, received_at,
                        producer_seq - dense_rank() OVER (PARTITION BY producer_id ORDER BY producer_seq) AS grp
                   FROM audit_logs WHERE producer_id IS NOT NULL${completenessWhere(filter, params, 'producer_id')})
          GROUP BY producer_id, grp ORDER BY producer_id, first`,
      )
      .bind(...params)
      .all<{ producer_id: string; first: number; last: number; first_received_at: number }>()
    return results.map((row) => ({ producer_id: row.producer_id, first: Number(row.first), last: Number(row.last), first_received_at: new Date(Number(row.first_received_at)).toISOString() }))
  }

  async accountingRecords(filter: CompletenessFilter): Promise<AccountingRecord[]> {
    const params: unknown[] = []
    const { results } = await this.db
      .prepare(accountingSql(filter, params))
      .bind(...params)
      .all<{ action: string; received_at: number; metadata: string }>()
    return results.flatMap((row) => readAccounting(row.action, new Date(Number(row.received_at)).toISOString(), JSON.parse(row.metadata) as Record<string, unknown>) ?? [])
  }
}
