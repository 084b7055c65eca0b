/**
 * The embedded store's dialect of `MIGRATION_PLAN`, and the `MigrationTarget` the shared runner
 * drives. Same logical schema as PostgreSQL's `audit_logs`; the differences are SQLite's types:
 * timestamps are INTEGER epoch ms, `success` is INTEGER 0/1, `metadata` is JSON text.
 */
import { EVENT_FIELDS_V2_MIGRATION } from './event-fields-sql.js'
import { MERKLE_TREE_MIGRATION } from './merkle-sql.js'
import type { SqliteDatabase } from './sqlite-driver.js'
import type { MigrationSql, MigrationTarget } from '../migrate.js'
import { APPEND_ONLY_MIGRATION, CHAIN_FORMAT_2_MIGRATION, CHAIN_MIGRATION } from './chain-sql.js'
import { FEED_MIGRATION } from './feed.js'
import { STREAM_TENANT_POSITIONS_MIGRATION, STREAMS_MIGRATION } from './stream-store.js'
import { tenantScopedIdsMigration } from './tenant-key-migration.js'
import { SEARCH_BACKFILL_POSITION_MIGRATION } from './search-backfill.js'
import { PRODUCER_RUNS_MIGRATION } from './producer-runs.js'

/** audit_logs' indexes as migration 1 created them (migration 4 rebuilds the table and recreates them). */
export const AUDIT_LOGS_INDEXES = [
  // Every read is newest first with `id` as tie-break; each filter gets its own index ending in
  // the same order, so a filtered page is an index range scan rather than a sort.
  'CREATE INDEX audit_logs_occurred_at_idx ON audit_logs (occurred_at DESC, id DESC)',
  'CREATE INDEX audit_logs_tenant_idx ON audit_logs (tenant_id, occurred_at DESC, id DESC)',
  'CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, occurred_at DESC, id DESC)',
  'CREATE INDEX audit_logs_action_idx ON audit_logs (action, occurred_at DESC, id DESC)',
  'CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id, occurred_at DESC, id DESC)',
  // PostgreSQL's is partial (WHERE category <> 'info'); SQLite cannot prove `category = ?` implies
  // that condition, so a partial index here would never be used.
  'CREATE INDEX audit_logs_category_idx ON audit_logs (category, occurred_at DESC, id DESC)',
  // Failures are rare next to successes, so a partial index answers "show me the failures"
  // while staying small; sql.ts writes `success = 0` as a literal so the planner can match it.
  'CREATE INDEX audit_logs_failed_idx ON audit_logs (occurred_at DESC, id DESC) WHERE success = 0',
]

export const EMBEDDED_MIGRATIONS: MigrationSql = {
  1: [
    // STRICT makes SQLite refuse a value of the wrong type (SQLITE_CONSTRAINT_DATATYPE) instead of
    // storing it as whatever it happens to be, so a bad row fails like it would in PostgreSQL.
    `CREATE TABLE audit_logs (
      id            TEXT    NOT NULL PRIMARY KEY,
      tenant_id     TEXT    NOT NULL,
      occurred_at   INTEGER NOT NULL,
      received_at   INTEGER NOT NULL,
      action        TEXT    NOT NULL,
      category      TEXT    NOT NULL CHECK (category IN ('info', 'warning', 'critical')),
      actor_id      TEXT,
      actor_type    TEXT,
      resource_type TEXT,
      resource_id   TEXT,
      success       INTEGER NOT NULL CHECK (success IN (0, 1)),
      error_message TEXT,
      description   TEXT,
      ip_address    TEXT,
      user_agent    TEXT,
      session_id    TEXT,
      request_id    TEXT,
      client_id     TEXT,
      metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
    ) STRICT`,
    ...AUDIT_LOGS_INDEXES,
  ],
  2: CHAIN_MIGRATION,
  3: APPEND_ONLY_MIGRATION,
  4: tenantScopedIdsMigration(AUDIT_LOGS_INDEXES),
  // Each tenant's newest checkpoint by index (see PostgreSQL's step 5).
  5: ['CREATE INDEX audit_checkpoints_tenant_idx ON audit_checkpoints (tenant_id, id DESC)'],
  // Chain format 2 (see PostgreSQL's step 6); the hashing itself happens in Node for this store.
  6: CHAIN_FORMAT_2_MIGRATION,
  // PostgreSQL's chain moved out of the event rows; here one writer holds the lock either way and
  // the in-row chain costs ~11 % (BENCHMARKS.md), so the layout stays.
  7: [],
  // API keys: scopes as comma-separated text, times as epoch ms like audit_logs.
  10: [
    `CREATE TABLE api_keys (
      id          TEXT    NOT NULL PRIMARY KEY,
      tenant_id   TEXT    NOT NULL,
      scopes      TEXT    NOT NULL,
      name        TEXT,
      secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
      created_at  INTEGER NOT NULL,
      revoked_at  INTEGER
    ) STRICT`,
  ],
  // PostgreSQL's step 20 gives its planner statistics on the report's hour/day expressions.
  // SQLite's planner keeps no such statistics and already aggregates those groups in one pass.
  20: [],
  // The fields added with canonical form auditq.v2 and each row's canonical version (event-fields-sql.ts).
  30: EVENT_FIELDS_V2_MIGRATION,
  // The completeness check's gaps-and-islands scan per producer across tenants (src/completeness/);
  // dropped by migration 92, whose producer runs replace it.
  31: ['CREATE INDEX audit_logs_producer_seq_idx ON audit_logs (producer_id, producer_seq) WHERE producer_id IS NOT NULL'],
  // Crypto-shredding's wrapped subject keys (see PostgreSQL's step 45); times as epoch ms.
  45: [
    `CREATE TABLE subject_keys (
      key_id        TEXT    NOT NULL PRIMARY KEY,
      tenant_id     TEXT    NOT NULL,
      subject_index TEXT    NOT NULL,
      wrapped_key   BLOB    NOT NULL,
      master_key_id TEXT    NOT NULL,
      created_at    INTEGER NOT NULL,
      UNIQUE (tenant_id, subject_index)
    ) STRICT`,
  ],
  // See PostgreSQL's step 46: SQLite's OR optimization looks both sides up by index.
  46: ['CREATE INDEX audit_logs_subject_idx ON audit_logs (subject_index, occurred_at DESC, id DESC) WHERE subject_index IS NOT NULL'],
  // The all-tenants feed's order: one row per tenant per write transaction (feed.ts).
  35: FEED_MIGRATION,
  // The Merkle tree over each chain (see PostgreSQL's step 40).
  40: MERKLE_TREE_MIGRATION,
  // Word search: an FTS5 table keyed by the event row's rowid, filled by the insert in the same
  // transaction with the same tokens PostgreSQL indexes (src/query/search/). It keeps its own copy
  // of the tokens (not contentless), so a row deleted by retention takes its entry along (trigger)
  // and a reused rowid can never match an old event's words.
  50: [
    "CREATE VIRTUAL TABLE audit_logs_fts USING fts5(doc, tokenize = 'unicode61', detail = full, columnsize = 0)",
    `CREATE TRIGGER audit_logs_fts_delete AFTER DELETE ON audit_logs BEGIN
      DELETE FROM audit_logs_fts WHERE rowid = old.rowid;
    END`,
  ],
  // PostgreSQL's step 87 lets the search backfill fill the `search` column past the append-only
  // guard. Nothing to change here: the FTS5 table is apart from audit_logs, so filling it updates
  // no event row and the guard triggers stay as they are.
  87: [],
  // Where the search backfill goes on (search-backfill.ts).
  88: SEARCH_BACKFILL_POSITION_MIGRATION,
  // Streams: definitions, positions and leases (docs/streaming.md).
  60: STREAMS_MIGRATION,
  // Archive streams' per-tenant acknowledged seqs, for archive-before-delete.
  61: STREAM_TENANT_POSITIONS_MIGRATION,
  // PostgreSQL's partitioned layout only: nothing to do here.
  80: [],
  // PostgreSQL's link rows gain occurred_at; the embedded store keeps its chain in the rows.
  81: [],
  // PostgreSQL's step 90 makes its (tenant_id, seq) index partial because its events keep seq NULL
  // since chain layout 2. Here every event has its seq in its row, so the index stays as it is.
  90: [],
  // PostgreSQL's positions index becomes on demand; here an event's seq is in its row.
  91: [],
  // The completeness check reads producer runs the inserts record, not a per-event index.
  92: PRODUCER_RUNS_MIGRATION,
  // Legal holds and per-tenant retention (docs/retention.md); times in epoch ms like every table here.
  70: [
    `CREATE TABLE auditq_legal_holds (
      id            TEXT    NOT NULL PRIMARY KEY,
      tenant_id     TEXT    NOT NULL,
      actor_id      TEXT,
      resource_type TEXT,
      resource_id   TEXT,
      reason        TEXT    NOT NULL,
      created_at    INTEGER NOT NULL,
      created_by    TEXT    NOT NULL,
      released_at   INTEGER,
      released_by   TEXT,
      CHECK ((resource_type IS NULL) = (resource_id IS NULL))
    ) STRICT`,
    'CREATE INDEX auditq_legal_holds_active_idx ON auditq_legal_holds (tenant_id) WHERE released_at IS NULL',
    `CREATE TABLE auditq_tenant_retention (
      tenant_id    TEXT    NOT NULL PRIMARY KEY,
      days         INTEGER NOT NULL CHECK (days >= 1),
      keep_actions TEXT    NOT NULL CHECK (json_valid(keep_actions)),
      updated_at   INTEGER NOT NULL
    ) STRICT`,
    'ALTER TABLE audit_retention_cuts ADD COLUMN holds TEXT CHECK (holds IS NULL OR json_valid(holds))',
  ],
}

const BOOKKEEPING_SQL = `CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`

/** Migrations running in this process, per database file; see `embeddedMigrationTarget`. */
const migrationsInProcess = new Map<string, Promise<unknown>>()

async function oneAtATimeInProcess<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = migrationsInProcess.get(file) ?? Promise.resolve()
  const current = previous.catch(() => undefined).then(fn)
  migrationsInProcess.set(file, current)
  try {
    return await current
  } finally {
    if (migrationsInProcess.get(file) === current) migrationsInProcess.delete(file)
  }
}

/**
 * Runs the migration on a connection of its own, inside `BEGIN IMMEDIATE`: that takes SQLite's
 * single write lock on the file, which every other connection waits for (up to its busy_timeout)
 * before it can write. So two processes starting at once migrate one after the other, and the
 * second finds nothing left to do. A separate connection keeps the store's own connection free of
 * a transaction held open across awaits.
 *
 * Within one process the SQLite lock is not enough: the driver waits for a lock synchronously,
 * so a second migrate() on the same file would block the event loop that the first one needs to
 * finish and commit — a deadlock until the timeout (a test caught it). Hence the in-process queue.
 *
 * Each step runs in a SAVEPOINT inside that transaction, and the lock is released by one COMMIT
 * at the end: a crash half-way leaves the file exactly as it was before `migrate()`.
 */
export function embeddedMigrationTarget(file: string, openConnection: () => SqliteDatabase): MigrationTarget {
  let connection: SqliteDatabase | undefined
  const locked = (): SqliteDatabase => {
    if (!connection) throw new Error('embedded migration step called outside withLock')
    return connection
  }
  async function inImmediateTransaction<T>(fn: () => Promise<T>): Promise<T> {
    const db = openConnection()
    try {
      db.exec('BEGIN IMMEDIATE')
      connection = db
      const result = await fn()
      db.exec('COMMIT')
      return result
    } finally {
      connection = undefined
      // After a failed step the transaction is still open; closing would roll it back too, but say so.
      if (db.inTransaction) db.exec('ROLLBACK')
      db.close()
    }
  }
  return {
    withLock: (fn) => oneAtATimeInProcess(file, () => inImmediateTransaction(fn)),
    async appliedVersions() {
      const db = locked()
      db.exec(BOOKKEEPING_SQL)
      return db
        .prepare<[], { version: number }>('SELECT version FROM auditq_migrations ORDER BY version')
        .all()
        .map((row) => row.version)
    },
    async apply(version, name, statements) {
      const db = locked()
      db.exec('SAVEPOINT auditq_migration_step')
      try {
        for (const statement of statements) db.exec(statement)
        db.prepare('INSERT INTO auditq_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          version,
          name,
          Date.now(),
        )
        db.exec('RELEASE auditq_migration_step')
      } catch (error) {
        db.exec('ROLLBACK TO auditq_migration_step')
        db.exec('RELEASE auditq_migration_step')
        throw error
      }
    },
  }
}
