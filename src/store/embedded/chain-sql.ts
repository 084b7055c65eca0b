/**
 * SQL of the hash chain, retention and append-only guard for the embedded (SQLite) store.
 * Same logical tables as PostgreSQL's chain-sql.ts, in SQLite's types.
 */
import { EVENT_FIELDS } from '../../event/types.js'
import { INSERT_COLUMNS, INSERT_VALUES } from './sql.js'

const COLUMNS = EVENT_FIELDS.join(', ')

/** Gap-free order per tenant, and the index verify and retention walk (migration 2; rebuilt by 4). */
export const CHAIN_INDEX = 'CREATE UNIQUE INDEX audit_logs_chain_idx ON audit_logs (tenant_id, seq)'

export const CHAIN_MIGRATION = [
  'ALTER TABLE audit_logs ADD COLUMN seq INTEGER',
  'ALTER TABLE audit_logs ADD COLUMN prev_hash TEXT',
  'ALTER TABLE audit_logs ADD COLUMN hash TEXT',
  CHAIN_INDEX,
  `CREATE TABLE audit_chain_heads (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT    NOT NULL
  ) STRICT`,
  `CREATE TABLE audit_retention_cuts (
    id           INTEGER NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    hash         TEXT    NOT NULL,
    cutoff       TEXT    NOT NULL,
    keep_actions TEXT    NOT NULL CHECK (json_valid(keep_actions)),
    kept_count   INTEGER NOT NULL,
    kept_digest  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
  ) STRICT`,
  `CREATE TABLE audit_checkpoints (
    id         INTEGER NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    cut        TEXT,
    key_id     TEXT    NOT NULL,
    signature  TEXT    NOT NULL
  ) STRICT`,
  // A lease, not a lock held by a connection: SQLite has no advisory locks, and a retention run
  // spans many short transactions. An expired lease (a crashed runner) may be taken over.
  `CREATE TABLE auditq_leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT`,
]

/**
 * SQLite has no session settings, so the retention path opens its window by inserting a row into
 * `auditq_retention_guard` inside its own write transaction and removing it before commit: no
 * other connection ever sees the row, and the DELETE trigger refuses whenever it is absent.
 */
const noUpdateTrigger = (table: string): string => `CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
      BEGIN SELECT RAISE(ABORT, 'auditq: ${table} is append-only; UPDATE refused'); END`

/** audit_logs' two guards (migration 3; migration 4 rebuilds the table and recreates them). */
export const AUDIT_LOGS_GUARD_TRIGGERS = [
  noUpdateTrigger('audit_logs'),
  `CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
    WHEN NOT EXISTS (SELECT 1 FROM auditq_retention_guard)
    BEGIN SELECT RAISE(ABORT, 'auditq: audit_logs is append-only; DELETE refused outside retention'); END`,
]

export const APPEND_ONLY_MIGRATION = [
  'CREATE TABLE auditq_retention_guard (active INTEGER NOT NULL) STRICT',
  noUpdateTrigger('audit_logs'),
  ...['audit_retention_cuts', 'audit_checkpoints'].map(noUpdateTrigger),
  AUDIT_LOGS_GUARD_TRIGGERS[1]!,
  ...['audit_retention_cuts', 'audit_checkpoints'].map(
    (table) => `CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
      BEGIN SELECT RAISE(ABORT, 'auditq: ${table} is append-only; DELETE refused'); END`,
  ),
]

/**
 * Migration 6: chain format 2 (links hash each event's content digest; docs/integrity.md). Rows
 * chained before keep format 1: the first seq of each existing tenant hashed the new way is
 * recorded, and verify applies each format where it was written.
 */
export const CHAIN_FORMAT_2_MIGRATION = [
  `CREATE TABLE audit_chain_formats (
    tenant_id   TEXT    NOT NULL PRIMARY KEY,
    v2_from_seq INTEGER NOT NULL
  ) STRICT`,
  'INSERT INTO audit_chain_formats (tenant_id, v2_from_seq) SELECT tenant_id, seq + 1 FROM audit_chain_heads',
  noUpdateTrigger('audit_chain_formats'),
  `CREATE TRIGGER audit_chain_formats_no_delete BEFORE DELETE ON audit_chain_formats
    BEGIN SELECT RAISE(ABORT, 'auditq: audit_chain_formats is append-only; DELETE refused'); END`,
]

export const INSERT_CHAINED_SQL = `INSERT INTO audit_logs (${INSERT_COLUMNS}, seq, prev_hash, hash)
  VALUES (${INSERT_VALUES}, @seq, @prev_hash, @hash)
  ON CONFLICT (tenant_id, id) DO NOTHING`

export const SELECT_HEAD_SQL = 'SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = ?'
export const UPSERT_HEAD_SQL = `INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
  ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`

export const SELECT_CHAIN_ROWS_SQL = `SELECT ${COLUMNS}, canonical_version, seq, prev_hash, hash FROM audit_logs
  WHERE tenant_id = ? AND (seq, id) > (?, ?) AND seq <= ? ORDER BY seq, id LIMIT ?`

/** Params: cutoff, the kept actions, then the tenant twice (NULL = every tenant). */
export const RETENTION_CANDIDATES_SQL = (keep: number) => `SELECT tenant_id, count(*) AS count, max(seq) AS max_seq
  FROM audit_logs WHERE occurred_at < ? AND action NOT IN (${Array(keep).fill('?').join(', ')}) AND seq IS NOT NULL
    AND (? IS NULL OR tenant_id = ?)
  GROUP BY tenant_id ORDER BY tenant_id`

/**
 * True when no legal hold of the JSON array parameter keeps the row (the same rule as
 * `holdMatches` in the chain walker: each set field of a hold must match).
 */
const NOT_HELD = `NOT EXISTS (SELECT 1 FROM json_each(?) h
      WHERE (json_extract(h.value, '$.actor_id') IS NULL OR json_extract(h.value, '$.actor_id') = audit_logs.actor_id)
        AND (json_extract(h.value, '$.resource_type') IS NULL
             OR (json_extract(h.value, '$.resource_type') = audit_logs.resource_type AND json_extract(h.value, '$.resource_id') = audit_logs.resource_id)))`

// tenant_id on the outer DELETE too: an id is unique only within its tenant (migration 4).
export const DELETE_CHUNK_SQL = (keep: number) => `DELETE FROM audit_logs WHERE tenant_id = ? AND id IN (
    SELECT id FROM audit_logs
    WHERE tenant_id = ? AND seq > ? AND seq <= ? AND occurred_at < ? AND action NOT IN (${Array(keep).fill('?').join(', ')})
      AND ${NOT_HELD}
    ORDER BY seq LIMIT ?
  ) RETURNING seq`
