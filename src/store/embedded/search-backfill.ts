/**
 * The search backfill for the embedded store (see src/query/search/backfill.ts): rows stored
 * before migration 50 have no entry in the FTS5 table, so no search finds them.
 *
 * Filling them writes only the FTS5 table, never audit_logs: the append-only triggers stay as they
 * are and no event row changes. Where to go on is kept in the file (`below`: every row with a
 * rowid at or above it is done), walked downwards so the newest events become searchable first.
 * Migration 88 starts it just above the newest row without an entry, so a store that never lacked
 * entries has nothing to walk; rows inserted since always have their entry (same transaction).
 */
import { searchTokens } from '../../query/search/document.js'
import type { SearchBackfillSource, SearchFillResult } from '../../query/search/backfill.js'
import { EVENT_FIELDS } from '../../event/types.js'
import { fromRow, type AuditRow } from './sql.js'
import type { SqliteDatabase } from './sqlite-driver.js'

const MISSING = 'NOT EXISTS (SELECT 1 FROM audit_logs_fts f WHERE f.rowid = a.rowid)'

export const SEARCH_BACKFILL_POSITION_MIGRATION = [
  `CREATE TABLE auditq_search_backfill (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    below INTEGER NOT NULL
  ) STRICT`,
  // One scan at upgrade time (FTS5 answers each rowid lookup from its index).
  `INSERT INTO auditq_search_backfill (id, below) SELECT 1, coalesce(max(a.rowid), 0) + 1 FROM audit_logs a WHERE ${MISSING}`,
]

const BELOW_SQL = 'SELECT below FROM auditq_search_backfill WHERE id = 1'
const SET_BELOW_SQL = 'UPDATE auditq_search_backfill SET below = ? WHERE id = 1'
const COUNT_SQL = `SELECT count(*) AS n FROM audit_logs a WHERE a.rowid < (${BELOW_SQL}) AND ${MISSING}`
// Rows that have their entry are stepped over (a rowid lookup each), so a batch is `limit` fills.
const SELECT_SQL = `SELECT a.rowid AS row_id, ${EVENT_FIELDS.map((f) => `a.${f}`).join(', ')}
  FROM audit_logs a WHERE a.rowid < ? AND ${MISSING} ORDER BY a.rowid DESC LIMIT ?`
const INSERT_SQL = 'INSERT INTO audit_logs_fts (rowid, doc) VALUES (?, ?)'

type Row = AuditRow & { row_id: number }

export class EmbeddedSearchBackfill implements SearchBackfillSource {
  private readonly fill: (limit: number) => SearchFillResult

  constructor(private readonly db: SqliteDatabase) {
    // IMMEDIATE, like every write here: the write lock is waited for at BEGIN (busy_timeout).
    this.fill = db.transaction((limit: number): SearchFillResult => {
      const below = db.prepare<[], { below: number }>(BELOW_SQL).get()?.below ?? 0
      if (below <= 1) return { examined: 0, filled: 0 }
      const rows = db.prepare<[number, number], Row>(SELECT_SQL).all(below, limit)
      const insert = db.prepare<[number, string], never>(INSERT_SQL)
      for (const row of rows) insert.run(row.row_id, searchTokens(fromRow(row)).join(' '))
      db.prepare<[number], never>(SET_BELOW_SQL).run(rows.length === 0 ? 0 : rows[rows.length - 1]!.row_id)
      return { examined: rows.length, filled: rows.length }
    }).immediate
  }

  /**
   * Walks the rows below the position (none once the backfill is done). When none lacks an entry
   * the position drops to 0, so later counts walk nothing.
   */
  async countUnindexed(): Promise<number> {
    const below = this.db.prepare<[], { below: number }>(BELOW_SQL).get()?.below ?? 0
    if (below <= 1) return 0
    const n = this.db.prepare<[], { n: number }>(COUNT_SQL).get()?.n ?? 0
    if (n === 0) this.db.prepare<[number], never>(SET_BELOW_SQL).run(0)
    return n
  }

  async fillBatch(limit: number): Promise<SearchFillResult> {
    return this.fill(limit)
  }
}
