/**
 * Migration 40 for PostgreSQL: the Merkle tree's tiles (merkle-tiles.ts), the size they cover per
 * tenant, the event positions of linked chains (layout 2 keeps an event's seq only in its link row,
 * so proofs by event id need an index, off the insert path; since migration 91 written when a
 * proof first needs it), and the
 * tree size and root each checkpoint signs. Tiles only ever grow; nothing here is deleted, so
 * proofs stay computable after retention removes events. Pure text, no connection.
 */
export const MERKLE_TREE_MIGRATION: readonly string[] = [
  'ALTER TABLE audit_checkpoints ADD COLUMN tree_size bigint, ADD COLUMN tree_root text',
  `CREATE TABLE audit_merkle_tiles (
    tenant_id text     NOT NULL,
    level     smallint NOT NULL,
    idx       bigint   NOT NULL,
    hashes    bytea    NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) BETWEEN 32 AND 512),
    PRIMARY KEY (tenant_id, level, idx)
  )`,
  `CREATE TABLE audit_merkle_trees (
    tenant_id text   PRIMARY KEY,
    size      bigint NOT NULL CHECK (size >= 0)
  )`,
  `CREATE TABLE audit_merkle_positions (
    tenant_id text   NOT NULL,
    id        uuid   NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
  )`,
  `CREATE FUNCTION auditq_merkle_tile_grows() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF length(NEW.hashes) < length(OLD.hashes) OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes
       OR NEW.tenant_id <> OLD.tenant_id OR NEW.level <> OLD.level OR NEW.idx <> OLD.idx THEN
      RAISE EXCEPTION 'auditq: a Merkle tile may only grow (tenant %, tile %/%)', OLD.tenant_id, OLD.level, OLD.idx;
    END IF;
    RETURN NEW;
  END $$`,
  `CREATE TRIGGER audit_merkle_tiles_grow_only BEFORE UPDATE ON audit_merkle_tiles
    FOR EACH ROW EXECUTE FUNCTION auditq_merkle_tile_grows()`,
  ...['audit_merkle_tiles', 'audit_merkle_positions'].map(
    (table) => `CREATE TRIGGER ${table}_append_only BEFORE DELETE OR TRUNCATE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`,
  ),
]

/**
 * One growth step as one statement ($1 tenant, $2-$4 the tiles' levels, indexes and bytes, $5 the
 * size after): tiles and size are written together or not at all, as a transaction
 * would, in one round trip instead of four (BEGIN, two statements, COMMIT). The checkpoint pays
 * this per tenant while ingest runs. Data-modifying WITH parts run to completion whether or not
 * the main statement reads them. A stored tile is replaced only by a longer one (the trigger
 * checks it extends).
 */
export const SAVE_STEP_SQL = `WITH tiles AS (
    INSERT INTO audit_merkle_tiles AS t (tenant_id, level, idx, hashes)
    SELECT $1, l, i, h FROM unnest($2::smallint[], $3::bigint[], $4::bytea[]) AS u(l, i, h)
    ON CONFLICT (tenant_id, level, idx) DO UPDATE SET hashes = excluded.hashes
    WHERE length(excluded.hashes) > length(t.hashes)
  )
  INSERT INTO audit_merkle_trees AS t (tenant_id, size) VALUES ($1, $5)
  ON CONFLICT (tenant_id) DO UPDATE SET size = GREATEST(t.size, excluded.size)`

/**
 * Migration 91: the positions index is written when a proof needs it, not at every checkpoint.
 * Written at checkpoint time it was one index row per event while ingest ran, and measured as
 * most of the tree's cost to direct-mode ingest (docs/decisions.md). `positions_size`: the seqs
 * 1..positions_size of linked events are indexed. Trees grown before this were indexed as they grew.
 */
export const POSITIONS_ON_DEMAND_MIGRATION: readonly string[] = [
  'ALTER TABLE audit_merkle_trees ADD COLUMN positions_size bigint NOT NULL DEFAULT 0',
  'UPDATE audit_merkle_trees SET positions_size = size',
]

/** The tree size of tenant $1 and how much of it the positions index covers. */
export const POSITIONS_COVERAGE_SQL = 'SELECT size, positions_size FROM audit_merkle_trees WHERE tenant_id = $1'

/**
 * Indexes tenant $1's linked events with seq in ($2, $3] and raises positions_size to $3, in one
 * statement (atomic). Only the link rows overlapping the range are read: from the one holding
 * seq $2 + 1 onward (the lower bound is what keeps a chunk late in a long chain from reading every
 * link row before it). Two processes indexing the same range at once both succeed: a position
 * already written is skipped, and the size only grows.
 */
export const INDEX_POSITIONS_SQL = `WITH positions AS (
    INSERT INTO audit_merkle_positions (tenant_id, id, seq)
    SELECT l.tenant_id, u.id, l.start_seq + u.o - 1
      FROM audit_chain_links l CROSS JOIN LATERAL unnest(l.ids) WITH ORDINALITY AS u(id, o)
     WHERE l.tenant_id = $1 AND l.start_seq <= $3::bigint
       AND l.start_seq >= coalesce((SELECT max(start_seq) FROM audit_chain_links WHERE tenant_id = $1 AND start_seq <= $2::bigint + 1), 0)
       AND l.start_seq + u.o - 1 > $2::bigint AND l.start_seq + u.o - 1 <= $3::bigint
    ON CONFLICT DO NOTHING
  )
  UPDATE audit_merkle_trees SET positions_size = GREATEST(positions_size, $3::bigint) WHERE tenant_id = $1`

/**
 * Chain positions of events by id ($1 tenant, $2 ids): linked events through the positions index
 * and their link row (the hash at k and the one before it), layout 1 rows from their own columns;
 * each with the canonical version its row records. For linked events that is a per-row primary-key
 * probe of the event row (a subquery, not a join: as a join the planner hashed a scan of the whole
 * event table, 100,000 rows for 1,000 ids). The positions too are probed id by id (LATERAL over
 * the ids; `LIMIT 1` on the primary key keeps the planner from flattening it into a join): with
 * `id = ANY(...)` a table not yet analyzed (a fresh load of a million events) was read whole for
 * every 1,000 ids, 0.4 s each instead of 0.03.
 */
export const POSITIONS_SQL = `SELECT p.id::text AS id, p.seq,
    CASE WHEN p.seq = l.start_seq THEN l.prev_hash
         ELSE encode(substring(l.links FROM (p.seq - l.start_seq)::int * 32 - 31 FOR 32), 'hex') END AS prev_hash,
    encode(substring(l.links FROM (p.seq - l.start_seq)::int * 32 + 1 FOR 32), 'hex') AS hash,
    (SELECT a.canonical_version FROM audit_logs a WHERE a.tenant_id = p.tenant_id AND a.id = p.id) AS canonical_version
  FROM unnest($2::uuid[]) AS k(id)
  CROSS JOIN LATERAL (SELECT tenant_id, id, seq FROM audit_merkle_positions WHERE tenant_id = $1 AND id = k.id LIMIT 1) p
  CROSS JOIN LATERAL (SELECT start_seq, prev_hash, links FROM audit_chain_links
                       WHERE tenant_id = p.tenant_id AND start_seq <= p.seq ORDER BY start_seq DESC LIMIT 1) l
  UNION ALL
  SELECT id::text, seq, prev_hash, hash, canonical_version FROM audit_logs WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND seq IS NOT NULL`

/** Layout 1 chain hashes in a seq range. */
export const LAYOUT1_HASHES_SQL = `SELECT seq, hash FROM audit_logs WHERE tenant_id = $1 AND seq BETWEEN $2::bigint AND $3::bigint ORDER BY seq`

/** Link rows overlapping [$2, $3], after start_seq $4, a window of $5 rows. */
export const LINK_HASHES_SQL = `SELECT start_seq, links FROM audit_chain_links
  WHERE tenant_id = $1 AND start_seq <= $3::bigint AND start_seq + cardinality(ids) - 1 >= $2::bigint AND start_seq > $4::bigint
  ORDER BY start_seq LIMIT $5`
