/**
 * SQL of the hash chain, retention and append-only guard for PostgreSQL (migrations 2 and 3, the
 * chained insert, verify's reads). Pure text, no connection.
 */
import { isEventKeyConstraint } from './partition-layout.js'
import { EVENT_FIELDS } from '../../event/types.js'
import { COLUMNS, COLUMN_TYPES } from './sql.js'

/**
 * Numbers and hashes one batch inside the server, so the head locks are held only while the
 * statement runs and commits, never across a round trip to Node (where a busy event loop would
 * stretch every other writer's wait). Locks the batch's heads in tenant order (creating missing
 * ones), walks the rows grouped by tenant in batch order, and moves each head once.
 * The hash is the documented one: SHA-256 over UTF-8 of prev_hash + "\n" + canonical form; the
 * canonical form is built in Node (src/integrity/canonical.ts) and passed in.
 * VOLATILE: each statement inside takes a fresh snapshot, so the SELECT after the lock sees the
 * head the previous holder committed.
 */
const CHAIN_FUNCTION = `CREATE FUNCTION auditq_chain(p_tenants text[], p_canonical text[], p_genesis text)
  RETURNS TABLE (o_ord bigint, o_seq bigint, o_prev text, o_hash text)
  LANGUAGE plpgsql VOLATILE AS $$
  #variable_conflict use_column
  DECLARE
    r record;
    cur_tenant text := NULL;
    cur_seq bigint;
    cur_hash text;
  BEGIN
    INSERT INTO audit_chain_heads (tenant_id, seq, hash)
      SELECT DISTINCT t, 0::bigint, p_genesis FROM unnest(p_tenants) AS t ORDER BY 1
      ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_chain_heads.seq;
    FOR r IN SELECT u.t, u.c, u.o FROM unnest(p_tenants, p_canonical) WITH ORDINALITY AS u(t, c, o) ORDER BY u.t, u.o LOOP
      IF cur_tenant IS DISTINCT FROM r.t THEN
        IF cur_tenant IS NOT NULL THEN
          UPDATE audit_chain_heads SET seq = cur_seq, hash = cur_hash WHERE tenant_id = cur_tenant;
        END IF;
        SELECT h.seq, h.hash INTO cur_seq, cur_hash FROM audit_chain_heads h WHERE h.tenant_id = r.t;
        cur_tenant := r.t;
      END IF;
      o_ord := r.o;
      o_seq := cur_seq + 1;
      o_prev := cur_hash;
      o_hash := encode(sha256(convert_to(cur_hash || E'\\n' || r.c, 'UTF8')), 'hex');
      cur_seq := o_seq;
      cur_hash := o_hash;
      RETURN NEXT;
    END LOOP;
    IF cur_tenant IS NOT NULL THEN
      UPDATE audit_chain_heads SET seq = cur_seq, hash = cur_hash WHERE tenant_id = cur_tenant;
    END IF;
  END $$`

/** Migration 2's insert failed the whole statement with this when an id was skipped as a duplicate (dropped by migration 6). */
const REQUIRE_ALL_FUNCTION = `CREATE FUNCTION auditq_require_all(p_inserted bigint, p_planned bigint) RETURNS bigint
  LANGUAGE plpgsql AS $$
  BEGIN
    IF p_inserted <> p_planned THEN
      RAISE EXCEPTION 'auditq: % of % numbered events were already stored', p_planned - p_inserted, p_planned
        USING ERRCODE = 'AQ001';
    END IF;
    RETURN p_inserted;
  END $$`

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
  CHAIN_FUNCTION,
  REQUIRE_ALL_FUNCTION,
]

/**
 * The head locking both chain functions share (PL/pgSQL; needs `p_tenants`, `p_genesis` and an
 * int variable `existing`). Interpolated into each function's text when its migration runs.
 */
export const LOCK_HEADS_PLPGSQL = `    -- All of the batch's heads are locked in the server's sort order, in one statement, so two
    -- batches can never each hold a head the other waits for. When they all exist (every batch
    -- but a tenant's first), without writing them: the upsert would add a row version per batch.
    -- Heads are never deleted, so "all exist" cannot turn false between the count and the lock.
    SELECT count(*) INTO existing FROM audit_chain_heads WHERE tenant_id = ANY (p_tenants);
    IF existing = cardinality(p_tenants) THEN
      PERFORM 1 FROM audit_chain_heads WHERE tenant_id = ANY (p_tenants) ORDER BY tenant_id FOR UPDATE;
    ELSE
      INSERT INTO audit_chain_heads AS hd (tenant_id, seq, hash)
        SELECT t, 0::bigint, p_genesis FROM unnest(p_tenants) AS t ORDER BY 1
        ON CONFLICT (tenant_id) DO UPDATE SET seq = hd.seq;
    END IF;
`

/**
 * Chain format 2 (migration 6): Node sends each event's content digest (SHA-256 of its canonical
 * form, computed before the statement), packed 32 bytes per event into one bytea, so the batch
 * travels without a second copy of itself; a link is SHA-256(prev as 32 bytes || digest).
 * `p_tenants` are the batch's distinct tenants, `p_slots[i]` the 1-based position of event i's
 * tenant among them.
 *
 * Locks the heads in one fixed order (the server's own sort, the same for every caller, so
 * concurrent batches cannot deadlock; a batch waits for a head only before it has inserted a
 * single row). Then the links, packed like the digests:
 *  - when the caller sent links computed from the heads it expects (`p_expected_*`, a process
 *    that is the only writer of these tenants knows them from its previous batch) and the locked
 *    heads are exactly those, its links are taken as they are: no per-event work here;
 *  - otherwise (another process wrote meanwhile, or the caller had no heads) they are computed
 *    here in batch order, ~2.5 µs per event in PL/pgSQL (1.2 ms per 500 measured), the part
 *    that holds every concurrent writer of the tenant back while it runs.
 * Either way verify recomputes every link in Node, so a wrong link cannot pass unnoticed.
 * Moves each head once and returns, per tenant, the seq and hash it started from (the INSERT
 * derives each row's seq and prev_hash from them set-based) and where it ends (for the caller's
 * next batch).
 * VOLATILE: each statement inside takes a fresh snapshot, so the read after the lock sees the head
 * the previous holder committed.
 */
const CHAIN_V2_FUNCTION = `CREATE FUNCTION auditq_chain_v2(p_tenants text[], p_slots int[], p_digests bytea, p_genesis text,
    p_expected_seqs bigint[], p_expected_hashes text[], p_links bytea,
    OUT o_start_seqs bigint[], OUT o_start_hashes text[], OUT o_links bytea,
    OUT o_end_seqs bigint[], OUT o_end_hashes text[], OUT o_taken boolean)
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    n int := length(p_digests) / 32;
    slots int[] := p_slots;
    heads bytea[];
    parts bytea[];
    h bytea;
    slot int;
    existing int;
  BEGIN
    IF n <> cardinality(p_slots) OR length(p_digests) % 32 <> 0 OR length(p_links) <> length(p_digests) THEN
      RAISE EXCEPTION 'auditq_chain_v2: % slots for % bytes of digests', cardinality(p_slots), length(p_digests);
    END IF;
${LOCK_HEADS_PLPGSQL}    SELECT array_agg(hd.seq ORDER BY u.o), array_agg(hd.hash ORDER BY u.o) INTO o_start_seqs, o_start_hashes
      FROM unnest(p_tenants) WITH ORDINALITY AS u(t, o) JOIN audit_chain_heads hd ON hd.tenant_id = u.t;
    o_taken := coalesce(p_links IS NOT NULL AND o_start_seqs = p_expected_seqs AND o_start_hashes = p_expected_hashes, false);
    IF o_taken THEN
      o_links := p_links;
    ELSE
      parts := array_fill(''::bytea, ARRAY[n]);
      IF cardinality(p_tenants) = 1 THEN
        h := auditq_hash_bytes(o_start_hashes[1]);
        FOR i IN 1 .. n LOOP
          h := sha256(h || substring(p_digests FROM i * 32 - 31 FOR 32));
          parts[i] := h;
        END LOOP;
      ELSE
        SELECT array_agg(auditq_hash_bytes(x) ORDER BY o) INTO heads FROM unnest(o_start_hashes) WITH ORDINALITY AS u(x, o);
        FOR i IN 1 .. n LOOP
          slot := slots[i];
          h := sha256(heads[slot] || substring(p_digests FROM i * 32 - 31 FOR 32));
          heads[slot] := h;
          parts[i] := h;
        END LOOP;
      END IF;
      SELECT string_agg(x, ''::bytea ORDER BY o) INTO o_links FROM unnest(parts) WITH ORDINALITY AS u(x, o);
    END IF;
    IF cardinality(p_tenants) = 1 THEN
      o_end_seqs := ARRAY[o_start_seqs[1] + n];
      o_end_hashes := ARRAY[encode(substring(o_links FROM n * 32 - 31 FOR 32), 'hex')];
    ELSE
      SELECT array_agg(o_start_seqs[c.slot] + c.n ORDER BY c.slot), array_agg(encode(substring(o_links FROM c.last::int * 32 - 31 FOR 32), 'hex') ORDER BY c.slot)
        INTO o_end_seqs, o_end_hashes
        FROM (SELECT z.slot, count(*) AS n, max(z.o) AS last FROM unnest(p_slots) WITH ORDINALITY AS z(slot, o) GROUP BY z.slot) c;
    END IF;
    UPDATE audit_chain_heads hd SET seq = u.s, hash = u.x
      FROM unnest(p_tenants, o_end_seqs, o_end_hashes) AS u(t, s, x) WHERE hd.tenant_id = u.t;
  END $$`

/**
 * A head's hash as 32 bytes. Only a tampered head row holds anything but 64 lower-case hex digits;
 * `decode` would then fail every insert of the tenant (and a queue worker would dead-letter each
 * event as bad data), so the text is hashed instead: the events are stored, chained to a value no
 * stored row carries, and verify names the break at the first of them.
 */
const HASH_BYTES_FUNCTION = `CREATE FUNCTION auditq_hash_bytes(p_hash text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN p_hash ~ '^[0-9a-f]{64}$' THEN decode(p_hash, 'hex') ELSE sha256(convert_to(p_hash, 'UTF8')) END
  $$`

/**
 * Migration 6: chain format 2. Rows already chained keep format 1; `audit_chain_formats` records,
 * per tenant that had a chain, the first seq hashed the new way, so verify applies each format
 * where it was written. Tenants created later have no row: format 2 from seq 1.
 */
export const CHAIN_FORMAT_2_MIGRATION = [
  `CREATE TABLE audit_chain_formats (
    tenant_id   text   PRIMARY KEY,
    v2_from_seq bigint NOT NULL
  )`,
  'INSERT INTO audit_chain_formats (tenant_id, v2_from_seq) SELECT tenant_id, seq + 1 FROM audit_chain_heads',
  `CREATE TRIGGER audit_chain_formats_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_chain_formats
    FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`,
  'DROP FUNCTION auditq_chain(text[], text[], text)',
  'DROP FUNCTION auditq_require_all(bigint, bigint)',
  HASH_BYTES_FUNCTION,
  CHAIN_V2_FUNCTION,
]

/**
 * Statement-level BEFORE triggers: no per-row cost, and they fire even when no row matches. The
 * retention path sets the transaction-local `auditq.retention = on` before its DELETE; nothing
 * else may change a stored event, a cut or a checkpoint. This stops application bugs and
 * accidents; a superuser can still disable it, which is what signed checkpoints are for.
 */
/**
 * The statement guard's function. Each exception lets one operation on audit_logs through when
 * its transaction set a setting (retention's DELETE; the search backfill's UPDATE, migration 87,
 * where a row trigger then checks each row); anything else is refused.
 */
export function appendOnlyFunction(exceptions: ReadonlyArray<{ operation: 'DELETE' | 'UPDATE'; setting: string }>, options: { replace?: boolean } = {}): string {
  const allowed = exceptions.map(
    ({ operation, setting }) => `    IF TG_OP = '${operation}' AND TG_TABLE_NAME = 'audit_logs' AND current_setting('${setting}', true) = 'on' THEN
      RETURN NULL;
    END IF;
`,
  )
  return `CREATE ${options.replace ? 'OR REPLACE ' : ''}FUNCTION auditq_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
${allowed.join('')}    RAISE EXCEPTION 'auditq: % is append-only; % refused', TG_TABLE_NAME, TG_OP
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'events are removed only by the retention path (auditq cleanup)';
  END $$`
}

export const RETENTION_EXCEPTION = { operation: 'DELETE', setting: 'auditq.retention' } as const

export const APPEND_ONLY_MIGRATION = [
  appendOnlyFunction([RETENTION_EXCEPTION]),
  ...['audit_logs', 'audit_retention_cuts', 'audit_checkpoints'].map(
    (table) => `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`,
  ),
]

/**
 * The unique violation an already-stored id raises in the chained insert: on the table's key, or
 * in the partitioned layout on the key of the partition the event falls in.
 */
export function isDuplicateId(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown }
  return code === '23505' && isEventKeyConstraint(constraint)
}

/** PostgreSQL aborted this transaction to break a deadlock; trying it again is the remedy. */
export function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown }).code === '40P01'
}

/** Which of the (tenant_id, id) pairs ($1 tenants, $2 ids, zipped) are already stored. */
export const EXISTING_IDS_SQL = `SELECT a.tenant_id, a.id::text AS id FROM audit_logs a
  JOIN unnest($1::text[], $2::uuid[]) AS k(tenant_id, id) ON a.tenant_id = k.tenant_id AND a.id = k.id`

export const SELECT_CHAIN_ROWS_SQL = (range: { fromSeq?: number; toSeq?: number }) =>
  `SELECT ${COLUMNS}, canonical_version, seq, prev_hash, hash FROM audit_logs WHERE tenant_id = $1 AND seq IS NOT NULL` +
  (range.fromSeq !== undefined ? ' AND seq >= $2' : '') +
  (range.toSeq !== undefined ? ` AND seq <= $${range.fromSeq !== undefined ? 3 : 2}` : '') +
  ' ORDER BY seq, id'

/** $1 cutoff, $2 kept actions, $3 one tenant (NULL = every tenant). */
export const RETENTION_CANDIDATES_SQL = `SELECT tenant_id, count(*) AS count, max(seq) AS max_seq
  FROM audit_logs WHERE occurred_at < $1::timestamptz AND NOT (action = ANY($2::text[])) AND seq IS NOT NULL
    AND ($3::text IS NULL OR tenant_id = $3::text)
  GROUP BY tenant_id ORDER BY tenant_id`

/**
 * True when no legal hold of the jsonb array parameter `$n` keeps the row `alias` (the same rule as
 * `holdMatches` in the chain walker: each set field of a hold must match).
 */
export const notHeld = (param: number, alias: string) => `NOT EXISTS (
      SELECT 1 FROM jsonb_to_recordset($${param}::jsonb) AS h(actor_id text, resource_type text, resource_id text)
      WHERE (h.actor_id IS NULL OR h.actor_id = ${alias}.actor_id)
        AND (h.resource_type IS NULL OR (h.resource_type = ${alias}.resource_type AND h.resource_id = ${alias}.resource_id)))`

// tenant_id on the outer DELETE too: an id is unique only within its tenant (migration 4).
export const DELETE_CHUNK_SQL = `DELETE FROM audit_logs WHERE tenant_id = $1 AND id IN (
    SELECT id FROM audit_logs
    WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 AND occurred_at < $4::timestamptz AND NOT (action = ANY($5::text[]))
      AND ${notHeld(7, 'audit_logs')}
    ORDER BY seq LIMIT $6
  ) RETURNING seq`
