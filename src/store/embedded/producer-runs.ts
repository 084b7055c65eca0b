/**
 * Producer runs for the embedded store (migration 92; PostgreSQL's producer-runs-sql.ts records
 * them with a statement trigger). Here every insert already runs row by row inside one
 * transaction in Node, so the insert collects the runs of the rows it stored (RunCollector) and
 * writes one row per run before committing: no per-event index, and a rolled-back batch records
 * nothing. SQLite has no statement triggers, and a row trigger would update a run row per event.
 */
import { CROWDED_PRODUCERS_SQL, mergedRuns, runsOfEvents } from '../producer-runs-merge.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js'

/** Migration 92: the table, the runs of every event stored so far, and the two producer indexes dropped. */
export const PRODUCER_RUNS_MIGRATION = [
  `CREATE TABLE audit_producer_runs (
    tenant_id         TEXT,
    producer_id       TEXT    NOT NULL,
    first_seq         INTEGER NOT NULL,
    last_seq          INTEGER NOT NULL CHECK (last_seq >= first_seq),
    first_received_at INTEGER NOT NULL
  ) STRICT`,
  'CREATE INDEX audit_producer_runs_producer_idx ON audit_producer_runs (producer_id, tenant_id)',
  runsOfEvents('audit_logs'),
  'DROP INDEX audit_logs_producer_idx',
  'DROP INDEX audit_logs_producer_seq_idx',
]

export const INSERT_RUN_SQL = 'INSERT INTO audit_producer_runs (tenant_id, producer_id, first_seq, last_seq, first_received_at) VALUES (?, ?, ?, ?, ?)'

export type Run = [tenant_id: string | null, producer_id: string, first_seq: number, last_seq: number, first_received_at: number]

interface Numbered {
  tenant_id: string
  seq: number
  received_at: number
}

/**
 * The runs of consecutive numbers among the rows one insert stored, per producer (a run's tenant
 * is NULL when its events have several: producer-runs-merge.ts). Rows come in any order (a batch
 * is grouped by tenant, and an application serving many tenants interleaves them), so the runs
 * are formed from the numbers sorted, once, when written.
 */
export class RunCollector {
  private readonly byProducer = new Map<string, Numbered[]>()

  add(row: { tenant_id: string; producer_id?: string | null; producer_seq?: number | null; received_at: number }): void {
    if (row.producer_id == null || row.producer_seq == null) return
    let rows = this.byProducer.get(row.producer_id)
    if (!rows) this.byProducer.set(row.producer_id, (rows = []))
    rows.push({ tenant_id: row.tenant_id, seq: row.producer_seq, received_at: row.received_at })
  }

  /** The runs, per producer in number order (a number stored twice extends its run, no new one). */
  runs(): Run[] {
    const out: Run[] = []
    for (const [producer, rows] of this.byProducer) {
      rows.sort((a, b) => a.seq - b.seq)
      let run: Run | undefined
      for (const row of rows) {
        if (run && row.seq <= run[3] + 1) {
          run[3] = Math.max(run[3], row.seq)
          if (run[0] !== row.tenant_id) run[0] = null
          run[4] = Math.min(run[4], row.received_at)
          continue
        }
        run = [row.tenant_id, producer, row.seq, row.seq, row.received_at]
        out.push(run)
      }
    }
    return out
  }

  /** Writes the runs (inside the insert's transaction) with INSERT_RUN_SQL, prepared once by the store. */
  write(insert: SqliteStatement<Run, never>): void {
    if (this.byProducer.size === 0) return
    for (const run of this.runs()) insert.run(...run)
  }
}

/**
 * Replaces the runs of every producer that has runs to merge by its islands. One
 * transaction, and SQLite has one writer at a time, so nothing is inserted meanwhile.
 */
export function compactRuns(db: SqliteDatabase): void {
  // Looked at first without the write lock: most checks find nothing to merge, and a writer
  // should not wait on one that does nothing.
  if (db.prepare(`${CROWDED_PRODUCERS_SQL} LIMIT 1`).get() === undefined) return
  db.transaction(() => {
    const merged = db
      .prepare<[], { tenant_id: string | null; producer_id: string; first_seq: number; last_seq: number; first_received_at: number }>(
        mergedRuns(`(SELECT * FROM audit_producer_runs WHERE producer_id IN (${CROWDED_PRODUCERS_SQL})) r`),
      )
      .all()
    if (merged.length === 0) return
    db.prepare(`DELETE FROM audit_producer_runs WHERE producer_id IN (${CROWDED_PRODUCERS_SQL})`).run()
    const insert = db.prepare<Run, never>(INSERT_RUN_SQL)
    for (const run of merged) insert.run(run.tenant_id, run.producer_id, run.first_seq, run.last_seq, run.first_received_at)
  }).immediate()
}
