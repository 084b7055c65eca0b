/**
 * PostgreSQL's dialect of `MIGRATION_PLAN`, and the `MigrationTarget` the shared runner drives.
 */
import { EVENT_FIELDS_V2_MIGRATION } from './event-fields-sql.js'
import { MERKLE_TREE_MIGRATION, POSITIONS_ON_DEMAND_MIGRATION } from './merkle-sql.js'
import { PRODUCER_RUNS_MIGRATION } from './producer-runs-sql.js'
import type pg from 'pg'
import type { MigrationSql, MigrationTarget } from '../migrate.js'
import { APPEND_ONLY_MIGRATION, CHAIN_FORMAT_2_MIGRATION, CHAIN_MIGRATION } from './chain-sql.js'
import { CHAIN_LINKS_MIGRATION, UNIQUE_IDS_FUNCTION } from './chain-links-sql.js'
import { FEED_MIGRATION } from './feed-sql.js'
import { LINK_OCCURRED_MIGRATION } from './link-occurred-sql.js'
import { BUCKET_EXPRESSIONS } from './report-sql.js'
import { STREAM_TENANT_POSITIONS_MIGRATION, STREAMS_MIGRATION } from './stream-store.js'
import { SEARCH_BACKFILL_INDEX_MIGRATION, SEARCH_FILL_GUARD_MIGRATION } from './search-backfill.js'

/**
 * Crypto-shredding's wrapped per-subject data keys (src/shred/). One key per (tenant, subject
 * index): the unique constraint is what makes creating a key on first use race-safe. Rows are
 * deleted by `auditq erase`; unlike audit_logs nothing guards them, since deleting one is the point.
 */
const SUBJECT_KEYS_MIGRATION = [
  `CREATE TABLE subject_keys (
    key_id        text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    subject_index text        NOT NULL,
    wrapped_key   bytea       NOT NULL,
    master_key_id text        NOT NULL,
    created_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, subject_index)
  )`,
]

export const POSTGRES_MIGRATIONS: MigrationSql = {
  45: SUBJECT_KEYS_MIGRATION,
  // A filter on the subject (`actor_id=S` with shredding on) is `actor_id = S OR subject_index = I`:
  // PostgreSQL answers it as a BitmapOr of this index and the actor index. Partial: rows stored
  // without shredding (all of them, until it is turned on) cost nothing, and the build only scans.
  46: ['CREATE INDEX audit_logs_subject_idx ON audit_logs (subject_index, occurred_at DESC, id DESC) WHERE subject_index IS NOT NULL'],
  1: [
    // Lengths and formats are the validator's job; the table enforces what keeps rows readable.
    // jsonb, not json: smaller and indexable later. It keeps every value but not key order or
    // spacing, so metadata round-trips deep-equal, not byte-equal: hash a canonical form, not the text.
    // inet refuses a malformed address (22P02, a `data` error) and returns PostgreSQL's text form,
    // which the validator already produced.
    `CREATE TABLE audit_logs (
      id            uuid        PRIMARY KEY,
      tenant_id     text        NOT NULL,
      occurred_at   timestamptz NOT NULL,
      received_at   timestamptz NOT NULL,
      action        text        NOT NULL,
      category      text        NOT NULL CHECK (category IN ('info', 'warning', 'critical')),
      actor_id      text,
      actor_type    text,
      resource_type text,
      resource_id   text,
      success       boolean     NOT NULL,
      error_message text,
      description   text,
      ip_address    inet,
      user_agent    text,
      session_id    text,
      request_id    text,
      client_id     text,
      metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb
    )`,
    // Every read is newest first, `ORDER BY occurred_at DESC, id DESC LIMIT n`, so each index ends
    // in that order: a page is an ordered range scan that stops after n + 1 rows, and the keyset
    // `(occurred_at, id) < ($t, $id)` is part of the index condition, so page 1,000 costs page 1.
    //
    // Chosen with EXPLAIN ANALYZE on 1M rows (200 tenants, the largest 27%, the smallest 0.1%;
    // 250k actors; 200 actions; 3% failures; 2% critical), pages of 101. With the primary key alone
    // every filtered page was a seq scan + sort, 85–210 ms. With these seven, every single filter
    // took ≤ 0.3 ms; combinations with a tiny tenant ('system' actor, failures, critical) 2–5 ms via
    // a BitmapAnd. Measured insert cost (bench/pg-insert-methods.ts --index-cost, batches of 500 on
    // that table): pk only 41–49k events/s; + time + tenant 0 to −23%; + actor, resource, failed
    // −47 to −51%; + action, category no further measurable cost. Actor and resource are the costly
    // ones: high cardinality, so each row lands on a random leaf page (more dirty pages, and a
    // full-page WAL image after each checkpoint), while time, tenant and action append to a few hot
    // right-hand pages. They stay: without them an actor's or a resource's history is a full scan,
    // 105–220 ms at 1M rows and linear in the table.
    'CREATE INDEX audit_logs_occurred_at_idx ON audit_logs (occurred_at DESC, id DESC)',
    'CREATE INDEX audit_logs_tenant_idx ON audit_logs (tenant_id, occurred_at DESC, id DESC)',
    // Actor, action and resource lead with their own column, not tenant_id, because unkeyed admin
    // queries see all tenants today: tenant-leading versions made those pages 16–37 ms (one branch
    // per tenant, then a sort). With a tenant bound they still answer in < 0.3 ms, as ids are mostly
    // tenant-local. Once every key is bound to one tenant, a later migration can swap in
    // (tenant_id, <column>, occurred_at, id) with CREATE INDEX CONCURRENTLY.
    'CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, occurred_at DESC, id DESC)',
    'CREATE INDEX audit_logs_action_idx ON audit_logs (action, occurred_at DESC, id DESC)',
    // resource_id alone: the filter allows it without resource_type, and a type rides along as a
    // residual condition. resource_type alone matches too many rows to need an index of its own.
    'CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_id, occurred_at DESC, id DESC)',
    // Partial, over the rare values only, so most inserts skip them; `info` and `success` match
    // nearly every row and are answered by the time or tenant index. sql.ts writes `NOT success`
    // as a keyword so the planner can always match the predicate.
    "CREATE INDEX audit_logs_category_idx ON audit_logs (category, occurred_at DESC, id DESC) WHERE category <> 'info'",
    'CREATE INDEX audit_logs_failed_idx ON audit_logs (occurred_at DESC, id DESC) WHERE NOT success',
  ],
  2: CHAIN_MIGRATION,
  3: APPEND_ONLY_MIGRATION,
  // Ids are unique per tenant, not across tenants: with the key on id alone, one tenant's event
  // made another tenant's event with the same id a silent "duplicate" (202, nothing stored) and
  // told the first that the id existed elsewhere. ALTER TABLE is DDL, so the append-only triggers
  // (statement triggers on UPDATE/DELETE/TRUNCATE) do not fire. tenant_id is already NOT NULL.
  // No other index leads with id, and getById without a tenant (open mode) looks up by id alone,
  // hence the plain index on id.
  4: [
    'ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_pkey',
    'ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (tenant_id, id)',
    'CREATE INDEX audit_logs_id_idx ON audit_logs (id)',
  ],
  // The checkpoint tick reads each tenant's newest checkpoint: one index probe per tenant instead of
  // a scan and sort of every checkpoint ever signed (~35k per active tenant per year).
  5: ['CREATE INDEX audit_checkpoints_tenant_idx ON audit_checkpoints (tenant_id, id DESC)'],
  // Chain format 2: links hash each event's content digest (docs/integrity.md); see chain-sql.ts.
  6: CHAIN_FORMAT_2_MIGRATION,
  // The chain moves out of the event rows (chain-links-sql.ts): the hash chain's cost in the worker process.
  7: CHAIN_LINKS_MIGRATION,
  // API keys: only a SHA-256 of each secret; looked up by id, so the primary key is the only index.
  10: [
    `CREATE TABLE api_keys (
      id          text        PRIMARY KEY,
      tenant_id   text        NOT NULL,
      scopes      text[]      NOT NULL,
      name        text,
      secret_hash bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
      created_at  timestamptz NOT NULL DEFAULT now(),
      revoked_at  timestamptz
    )`,
  ],
  // Reports group by hour and by day. Without statistics on those expressions the planner assumes
  // one group per row, and for a month of 1M events sorted them on disk instead of hashing 30
  // groups: 650 ms instead of ~100 ms for that statement (bench/report-1m.ts, BENCHMARKS.md).
  // Statistics, not indexes: nothing is maintained per insert; ANALYZE (autovacuum's included)
  // samples them with the table. The expressions must match report-sql.ts's exactly, hence shared.
  20: [
    `CREATE STATISTICS audit_logs_hour_stats ON (${BUCKET_EXPRESSIONS.hour}) FROM audit_logs`,
    `CREATE STATISTICS audit_logs_day_stats ON (${BUCKET_EXPRESSIONS.day}) FROM audit_logs`,
  ],
  // The fields added with canonical form auditq.v2 and each row's canonical version (event-fields-sql.ts).
  30: EVENT_FIELDS_V2_MIGRATION,
  // The completeness check's gaps-and-islands scan per producer across tenants (src/completeness/);
  // dropped by migration 92, whose producer runs replace it.
  31: ['CREATE INDEX audit_logs_producer_seq_idx ON audit_logs (producer_id, producer_seq) WHERE producer_id IS NOT NULL'],
  // The feed's orders: a commit-order key per link row for the all-tenants feed (feed-sql.ts).
  35: FEED_MIGRATION,
  // The Merkle tree over each chain (docs/integrity.md): tiles of node hashes, written at
  // checkpoint time, never by inserts; checkpoints sign its size and root.
  40: MERKLE_TREE_MIGRATION,
  // Word search (src/query/search/): the insert writes each event's tokens as a tsvector literal
  // (built in JS, the same tokens SQLite's FTS5 table gets), GIN-indexed. Nullable, so adding it
  // rewrites nothing; rows stored before it have no document and are not found by word search.
  50: ['ALTER TABLE audit_logs ADD COLUMN search tsvector', 'CREATE INDEX audit_logs_search_idx ON audit_logs USING gin (search)'],
  // Legal holds and per-tenant retention (docs/retention.md). A hold is never deleted, only
  // released, so who held what and why stays answerable. A cut records the holds it honoured.
  70: [
    `CREATE TABLE auditq_legal_holds (
      id            text        PRIMARY KEY,
      tenant_id     text        NOT NULL,
      actor_id      text,
      resource_type text,
      resource_id   text,
      reason        text        NOT NULL,
      created_at    timestamptz NOT NULL,
      created_by    text        NOT NULL,
      released_at   timestamptz,
      released_by   text,
      CHECK ((resource_type IS NULL) = (resource_id IS NULL))
    )`,
    'CREATE INDEX auditq_legal_holds_active_idx ON auditq_legal_holds (tenant_id) WHERE released_at IS NULL',
    `CREATE TABLE auditq_tenant_retention (
      tenant_id    text        PRIMARY KEY,
      days         integer     NOT NULL CHECK (days >= 1),
      keep_actions text[]      NOT NULL,
      updated_at   timestamptz NOT NULL
    )`,
    'ALTER TABLE audit_retention_cuts ADD COLUMN holds jsonb',
  ],
  // The search backfill (search-backfill.ts): the append-only guard lets an UPDATE through only to
  // fill a NULL search document, every other column unchanged; then the index of what is left.
  87: SEARCH_FILL_GUARD_MIGRATION,
  88: SEARCH_BACKFILL_INDEX_MIGRATION,
  // Since chain layout 2 (migration 7) new rows keep seq NULL: their seqs live in the link rows.
  // The unique (tenant_id, seq) index still took one entry per inserted row, all of them NULL,
  // serving nothing. Partial, it keeps protecting the rows chained before migration 7 and every
  // query on their seqs (each says `seq IS NOT NULL` or a range that implies it) at no insert cost.
  90: [
    'DROP INDEX audit_logs_chain_idx',
    'CREATE UNIQUE INDEX audit_logs_chain_idx ON audit_logs (tenant_id, seq) WHERE seq IS NOT NULL',
  ],
  // Streams: definitions, positions and leases (docs/streaming.md).
  60: STREAMS_MIGRATION,
  // Archive streams' per-tenant acknowledged seqs, for archive-before-delete.
  61: STREAM_TENANT_POSITIONS_MIGRATION,
  // The partitioned layout's id guard across partitions (chain-links-sql.ts); unused by the plain table.
  80: [UNIQUE_IDS_FUNCTION],
  // Link rows carry their events' occurred_at, so a lookup from a chain position to its event
  // prunes to one partition in the partitioned layout (link-occurred-sql.ts).
  81: LINK_OCCURRED_MIGRATION,
  // The event id -> seq index of linked chains is written when a proof first needs it (merkle.ts).
  91: POSITIONS_ON_DEMAND_MIGRATION,
  // The completeness check reads producer runs an insert trigger records, not a per-event index.
  92: PRODUCER_RUNS_MIGRATION,
}

const BOOKKEEPING_SQL = `CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

/**
 * First key of the two-int advisory lock: "auditq" migrations, in any schema. The second key is
 * `hashtext(schema)`, so stores in different schemas (one per test file) do not queue behind each
 * other; a hash collision only serializes two migrations, which is harmless.
 */
const MIGRATION_LOCK_KEY = 0x61756471 // 'audq'

/**
 * Everything runs in one transaction on one client: it takes `pg_advisory_xact_lock`, creates the
 * schema if missing, applies every pending step and commits. So five processes starting at once
 * queue on the lock and the later ones find nothing to do; a crash or a failed step rolls the
 * whole migration back (PostgreSQL DDL is transactional), and the lock can never outlive the
 * transaction that took it, even if the client is killed.
 *
 * The schema is created under the lock because concurrent `CREATE SCHEMA IF NOT EXISTS` can still
 * fail with a unique violation on pg_namespace; and only when missing, because that statement
 * checks the CREATE privilege on the database before it checks existence.
 */
export function postgresMigrationTarget(
  pool: pg.Pool,
  settings: { schema: string; lockTimeoutMs: number },
): MigrationTarget {
  let locked: pg.PoolClient | undefined
  const client = (): pg.PoolClient => {
    if (!locked) throw new Error('postgres migration step called outside withLock')
    return locked
  }
  return {
    async withLock(fn) {
      const connection = await pool.connect()
      let broken: Error | undefined
      try {
        await connection.query('BEGIN')
        // lock_timeout bounds the wait for another process's migration (advisory locks honour it),
        // so a stuck migrator fails our start-up with a clear error instead of hanging it.
        await connection.query("SELECT set_config('lock_timeout', $1, true)", [`${settings.lockTimeoutMs}ms`])
        await connection.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, settings.schema])
        const exists = await connection.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [settings.schema])
        if (exists.rowCount === 0) await connection.query(`CREATE SCHEMA "${settings.schema}"`)
        locked = connection
        const result = await fn()
        await connection.query('COMMIT')
        return result
      } catch (error) {
        // Roll back to return a clean connection to the pool; if even that fails, the connection
        // is unusable and releasing it with the error makes the pool destroy it.
        await connection.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError
        })
        throw error
      } finally {
        locked = undefined
        connection.release(broken)
      }
    },
    async appliedVersions() {
      await client().query(BOOKKEEPING_SQL)
      const result = await client().query<{ version: number }>('SELECT version FROM auditq_migrations ORDER BY version')
      return result.rows.map((row) => row.version)
    },
    async apply(version, name, statements) {
      for (const statement of statements) await client().query(statement)
      await client().query('INSERT INTO auditq_migrations (version, name) VALUES ($1, $2)', [version, name])
    },
  }
}
