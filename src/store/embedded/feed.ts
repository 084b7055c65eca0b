/**
 * The feed on the embedded store (migration 35). SQLite lets one write transaction run at a time,
 * across processes too (every chained insert is BEGIN IMMEDIATE), so commit order is simply the
 * order in which write transactions ran. Each chained insert appends, per tenant it wrote, one
 * `audit_feed` row (AUTOINCREMENT key, never reused, even after deletes or VACUUM) naming the seqs
 * it took: one tenant's feed is its chain in seq order, the all-tenants feed walks `audit_feed` by
 * key. Both are gap-free for the same reason: a key or seq is taken only inside the one write
 * transaction, and a reader's snapshot holds every transaction that committed before it began.
 */
import { EVENT_FIELDS } from '../../event/types.js'
import type { FeedPosition, FeedRow, FeedSource } from '../../feed/feed-event.js'
import { CommitSignal } from '../commit-signal.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js'
import { fromRow, type AuditRow } from './sql.js'

const noChange = (what: string) => `CREATE TRIGGER audit_feed_no_${what} BEFORE ${what.toUpperCase()} ON audit_feed
      BEGIN SELECT RAISE(ABORT, 'auditq: audit_feed is append-only; ${what.toUpperCase()} refused'); END`

/** Migration 35. Chains that exist now get one row per tenant, in tenant order, before any new write. */
export const FEED_MIGRATION = [
  `CREATE TABLE audit_feed (
    key       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT    NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL
  ) STRICT`,
  'INSERT INTO audit_feed (tenant_id, first_seq, last_seq) SELECT tenant_id, 1, seq FROM audit_chain_heads WHERE seq > 0 ORDER BY tenant_id',
  noChange('update'),
  noChange('delete'),
]

export const INSERT_FEED_ROW_SQL = 'INSERT INTO audit_feed (tenant_id, first_seq, last_seq) VALUES (?, ?, ?)'

const COLUMNS = EVENT_FIELDS.map((field) => `a.${field}`).join(', ')

/** One tenant's chain after seq ?, by the chain index (tenant_id, seq). */
export const TENANT_FEED_SQL = `SELECT ${COLUMNS}, a.seq, a.hash FROM audit_logs a
  WHERE a.tenant_id = ? AND a.seq > ? ORDER BY a.seq LIMIT ?`

/**
 * The all-tenants feed after (key, seq): the next feed rows by key, each with its surviving events
 * (one row with NULL event columns when retention deleted them all, so the cursor still moves).
 */
export const ALL_FEED_SQL = `SELECT f.key AS feed_key, f.tenant_id AS position_tenant, f.last_seq, ${COLUMNS}, a.seq, a.hash
  FROM (SELECT key, tenant_id, first_seq, last_seq FROM audit_feed
        WHERE key >= @key AND (key > @key OR last_seq > @seq) ORDER BY key LIMIT @limit) f
  LEFT JOIN audit_logs a ON a.tenant_id = f.tenant_id AND a.seq BETWEEN f.first_seq AND f.last_seq AND (f.key > @key OR a.seq > @seq)
  ORDER BY f.key, a.seq LIMIT @limit`

type TenantRow = AuditRow & { seq: number; hash: string }
type AllRow = TenantRow & { feed_key: number; position_tenant: string; last_seq: number; id: string | null }

export class EmbeddedFeed implements FeedSource {
  readonly commits = new CommitSignal()

  private tenantStatement: SqliteStatement<[string, number, number], TenantRow> | undefined
  private allStatement: SqliteStatement<[{ key: number; seq: number; limit: number }], AllRow> | undefined

  // Prepared on first read: the table exists only once migrate() has run.
  constructor(private readonly db: SqliteDatabase) {}

  async read(after: FeedPosition, limit: number): Promise<FeedRow[]> {
    if (after.scope === 'tenant') {
      const rows = (this.tenantStatement ??= this.db.prepare(TENANT_FEED_SQL)).all(after.tenant, after.seq, limit)
      return rows.map((row) => ({ event: fromRow(row), seq: row.seq, hash: row.hash, position: { scope: 'tenant', tenant: after.tenant, seq: row.seq } }))
    }
    const rows = (this.allStatement ??= this.db.prepare(ALL_FEED_SQL)).all({ key: Number(after.key), seq: after.seq, limit })
    return rows.map((row) => {
      const present = row.id !== null
      const seq = present ? row.seq : row.last_seq
      return {
        event: present ? fromRow(row) : null,
        seq,
        hash: present ? row.hash : '',
        position: { scope: 'all', key: String(row.feed_key), tenant: row.position_tenant, seq },
      }
    })
  }

  onCommit(listener: () => void): () => void {
    return this.commits.subscribe(listener)
  }
}
