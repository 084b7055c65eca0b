/**
 * The completeness check's reads for the embedded store: islands from the producer runs the
 * inserts record (producer-runs.ts), compacted first and merged per producer as PostgreSQL's
 * (postgres/completeness.ts), with epoch-ms times.
 */
import { readAccounting, type AccountingRecord } from '../../completeness/accounting.js'
import type { Island } from '../../completeness/compute.js'
import type { CompletenessFilter, CompletenessSource } from '../../completeness/source.js'
import { islandsSql } from '../producer-runs-merge.js'
import { accountingSql, completenessWhere } from './completeness-sql.js'
import { compactRuns } from './producer-runs.js'
import type { Logger } from '../../util/logger.js'
import type { SqliteDatabase } from './sqlite-driver.js'

export class EmbeddedCompleteness implements CompletenessSource {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly logger?: Logger,
  ) {}

  async producerIslands(filter: CompletenessFilter): Promise<Island[]> {
    // Compaction only shrinks what the read merges anyway: if it fails (the write lock busy past
    // the timeout, say), the read still gives exact islands from more rows; said, not hidden, as
    // a table that never compacts makes every check slower.
    try {
      compactRuns(this.db)
    } catch (error) {
      this.logger?.warn({ err_message: (error as Error).message }, 'producer runs not compacted; the completeness check read them as they are')
    }
    const params: unknown[] = []
    const rows = this.db
      .prepare<unknown[], { producer_id: string; first: number; last: number; first_received_at: number }>(islandsSql(`1 = 1${completenessWhere(filter, params, 'producer_id')}`))
      .all(...params)
    return rows.map((row) => ({ producer_id: row.producer_id, first: Number(row.first), last: Number(row.last), first_received_at: new Date(Number(row.first_received_at)).toISOString() }))
  }

  async accountingRecords(filter: CompletenessFilter): Promise<AccountingRecord[]> {
    const params: unknown[] = []
    const rows = this.db.prepare<unknown[], { action: string; received_at: number; metadata: string }>(accountingSql(filter, params)).all(...params)
    return rows.flatMap((row) => readAccounting(row.action, new Date(Number(row.received_at)).toISOString(), JSON.parse(row.metadata) as Record<string, unknown>) ?? [])
  }
}
