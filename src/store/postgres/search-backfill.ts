/**
 * Filling in the search document of events stored before word search existed (migration 50 added
 * the column without rewriting the table, so their `search` is NULL and no search finds them).
 *
 * The append-only guard refuses every UPDATE of audit_logs. Migration 87 opens one narrow door,
 * the way retention's DELETE is let through: inside a transaction that sets `auditq.search_fill`,
 * the statement guard lets an UPDATE of audit_logs run, and a row guard then refuses any row whose
 * change is anything but `search` going from NULL to a document. Every other column (the hashed
 * event, seq, hashes, canonical_version, and any column added later) must stay identical, so the
 * chain cannot be touched through it, and a document once written cannot be rewritten.
 * `search` is not part of the canonical form (it is derived from the event, src/query/search/).
 */
import type pg from 'pg'
import type { SearchBackfillSource, SearchFillResult } from '../../query/search/backfill.js'
import { appendOnlyFunction, RETENTION_EXCEPTION } from './chain-sql.js'
import { COLUMNS, fromRow, searchParam, type AuditRow } from './sql.js'

export const SEARCH_FILL_SETTING = 'auditq.search_fill'

export const SEARCH_FILL_GUARD_MIGRATION = [
  // The statement guard of migration 3, with the fill's exception beside retention's.
  appendOnlyFunction([RETENTION_EXCEPTION, { operation: 'UPDATE', setting: SEARCH_FILL_SETTING }], { replace: true }),
  // Compared as jsonb minus the one column, so a column added by a later migration is covered
  // without editing this function. Only UPDATEs fire it, never inserts: ingest pays nothing.
  `CREATE FUNCTION auditq_search_fill_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF OLD.search IS NULL AND NEW.search IS NOT NULL AND (to_jsonb(NEW) - 'search') = (to_jsonb(OLD) - 'search') THEN
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'auditq: audit_logs is append-only; UPDATE refused (only a missing search document may be filled in)'
      USING ERRCODE = 'insufficient_privilege';
  END $$`,
  `CREATE TRIGGER audit_logs_search_fill_only BEFORE UPDATE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION auditq_search_fill_only()`,
]

/**
 * The rows still to fill, newest first (what a viewer shows first becomes searchable first).
 * Partial: rows inserted with a document (all of them since migration 50) are not in it, and a
 * filled row leaves it, so finding and counting what is left never scans the table.
 */
export const SEARCH_BACKFILL_INDEX_MIGRATION = [
  'CREATE INDEX audit_logs_search_missing_idx ON audit_logs (occurred_at DESC, id DESC) WHERE search IS NULL',
]

const COUNT_SQL = 'SELECT count(*)::bigint AS n FROM audit_logs WHERE search IS NULL'

const SELECT_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE search IS NULL
  ORDER BY occurred_at DESC, id DESC LIMIT $1 FOR UPDATE`
// Two processes filling at once (the service's pass and the CLI) take disjoint rows. When every
// row left is locked by the other, the plain FOR UPDATE waits for its transaction (milliseconds)
// and then finds the rows filled, so "nothing examined" means nothing is left, not "busy".
const SELECT_UNLOCKED_SQL = `${SELECT_SQL} SKIP LOCKED`

const UPDATE_SQL = `UPDATE audit_logs a SET search = u.doc
  FROM unnest($1::text[], $2::uuid[], $3::tsvector[]) AS u(tenant_id, id, doc)
  WHERE a.tenant_id = u.tenant_id AND a.id = u.id AND a.search IS NULL`

export class PostgresSearchBackfill implements SearchBackfillSource {
  /** The primary's write pool: a replica would show rows already filled as still missing. */
  constructor(private readonly pool: pg.Pool) {}

  async countUnindexed(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(COUNT_SQL)
    return Number(rows[0]?.n ?? 0)
  }

  /** One short transaction: lock up to `limit` rows, compute their documents, write them. */
  async fillBatch(limit: number): Promise<SearchFillResult> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await client.query('SELECT set_config($1, $2, true)', [SEARCH_FILL_SETTING, 'on'])
      let { rows } = await client.query<AuditRow>(SELECT_UNLOCKED_SQL, [limit])
      if (rows.length === 0) rows = (await client.query<AuditRow>(SELECT_SQL, [limit])).rows
      if (rows.length === 0) {
        await client.query('COMMIT')
        return { examined: 0, filled: 0 }
      }
      const events = rows.map(fromRow)
      const result = await client.query(UPDATE_SQL, [events.map((e) => e.tenant_id), events.map((e) => e.id), searchParam(events)])
      await client.query('COMMIT')
      return { examined: rows.length, filled: result.rowCount ?? 0 }
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      throw error
    } finally {
      client.release(broken)
    }
  }
}
