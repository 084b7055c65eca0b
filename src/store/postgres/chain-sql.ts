/**
 * SQL of the hash chain, retention and append-only guard for PostgreSQL (migrations 2 and 3, the
 * chained insert, verify's reads). Pure text, no connection.
 */
import { EVENT_FIELDS } from '../../event/types.js'
import { COLUMNS, COLUMN_TYPES } from './sql.js'

export const CHAIN_MIGRATION = [
  // Nullable: rows stored before this migration stay outside the chain (verify counts none of them).
  'ALTER TABLE audit_logs ADD COLUMN seq bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text',
  // Gap-free order per tenant, and the index verify and retention walk.
  'CREATE UNIQUE INDEX audit_logs_chain_idx ON audit_logs (tenant_id, seq)',
  // One row per tenant, locked by every chained insert: the serialization point of the chain.
  `CREATE TABLE audit_chain_heads (
    tenant_id text   PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text   NOT NULL
  )`,
  `CREATE TABLE audit_retention_cuts (
    id           bigserial PRIMARY KEY,
    tenant_id    text      NOT NULL,
    seq          bigint    NOT NULL,
    hash         text      NOT NULL,
    cutoff       text      NOT NULL,
    keep_actions text[]    NOT NULL,
    kept_count   bigint    NOT NULL,
    kept_digest  text      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
  )`,
  'CREATE INDEX audit_retention_cuts_tenant_idx ON audit_retention_cuts (tenant_id, id DESC)',
  `CREATE TABLE audit_checkpoints (
    id         bigserial PRIMARY KEY,
    tenant_id  text      NOT NULL,
    seq        bigint    NOT NULL,
    hash       text      NOT NULL,
    created_at text      NOT NULL,
    cut        jsonb,
    key_id     text      NOT NULL,
    signature  text      NOT NULL
  )`,
]

/**
 * Statement-level BEFORE triggers: no per-row cost, and they fire even when no row matches. The
 * retention path sets the transaction-local `auditq.retention = on` before its DELETE; nothing
 * else may change a stored event, a cut or a checkpoint. This stops application bugs and
 * accidents; a superuser can still disable it, which is what signed checkpoints are for.
 */
export const APPEND_ONLY_MIGRATION = [
  `CREATE FUNCTION auditq_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_logs' AND current_setting('auditq.retention', true) = 'on' THEN
      RETURN NULL;
    END IF;
    RAISE EXCEPTION 'auditq: % is append-only; % refused', TG_TABLE_NAME, TG_OP
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'events are removed only by the retention path (auditq cleanup)';
  END $$`,
  ...['audit_logs', 'audit_retention_cuts', 'audit_checkpoints'].map(
    (table) => `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`,
  ),
]

/**
 * Creates missing heads and locks every head of the batch, in tenant order so two batches never
 * wait for each other crosswise. `DO UPDATE` (a no-op change) is what takes the row lock and
 * returns the latest committed head even under READ COMMITTED.
 */
export const LOCK_HEADS_SQL = `INSERT INTO audit_chain_heads (tenant_id, seq, hash)
  SELECT t, 0, $2::text FROM unnest($1::text[]) AS t ORDER BY t
  ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_chain_heads.seq
  RETURNING tenant_id, seq, hash`

const CHAINED_FIELDS = [...EVENT_FIELDS.map((field) => `$${EVENT_FIELDS.indexOf(field) + 1}::${COLUMN_TYPES[field]}[]`)]
const N = EVENT_FIELDS.length

/**
 * The insert and the head update in one statement (one round trip). The conflict on id is
 * absorbed as before; the caller compares rowCount with the rows it numbered and retries when a
 * concurrent batch stored one of its ids first, so a duplicate never consumes a seq.
 */
export const INSERT_CHAINED_SQL = `WITH moved AS (
    UPDATE audit_chain_heads h SET seq = u.seq, hash = u.hash
    FROM unnest($${N + 4}::text[], $${N + 5}::bigint[], $${N + 6}::text[]) AS u(tenant_id, seq, hash)
    WHERE h.tenant_id = u.tenant_id
    RETURNING 1
  )
  INSERT INTO audit_logs (${COLUMNS}, seq, prev_hash, hash)
  SELECT * FROM unnest(${CHAINED_FIELDS.join(', ')}, $${N + 1}::bigint[], $${N + 2}::text[], $${N + 3}::text[])
  ON CONFLICT (id) DO NOTHING`

export const INSERT_CHAINED_NAME = 'auditq_insert_chained'

export const EXISTING_IDS_SQL = 'SELECT id::text AS id FROM audit_logs WHERE id = ANY($1::uuid[])'

export const SELECT_CHAIN_ROWS_SQL = (range: { fromSeq?: number; toSeq?: number }) =>
  `SELECT ${COLUMNS}, seq, prev_hash, hash FROM audit_logs WHERE tenant_id = $1 AND seq IS NOT NULL` +
  (range.fromSeq !== undefined ? ' AND seq >= $2' : '') +
  (range.toSeq !== undefined ? ` AND seq <= $${range.fromSeq !== undefined ? 3 : 2}` : '') +
  ' ORDER BY seq, id'

export const RETENTION_CANDIDATES_SQL = `SELECT tenant_id, count(*) AS count, max(seq) AS max_seq
  FROM audit_logs WHERE occurred_at < $1::timestamptz AND NOT (action = ANY($2::text[])) AND seq IS NOT NULL
  GROUP BY tenant_id ORDER BY tenant_id`

export const DELETE_CHUNK_SQL = `DELETE FROM audit_logs WHERE id IN (
    SELECT id FROM audit_logs
    WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 AND occurred_at < $4::timestamptz AND NOT (action = ANY($5::text[]))
    ORDER BY seq LIMIT $6
  ) RETURNING seq`
