/**
 * The feed on PostgreSQL (migration 35): SQL text only, no connection.
 *
 * One tenant's feed is its chain in seq order. That order is commit order: a batch takes its
 * seqs under the tenant's head row lock (auditq_chain_v3) and keeps the lock until it commits, so
 * the next batch of that tenant gets its seqs only after the previous one is visible. A snapshot
 * therefore sees each tenant's chain as a prefix (less what retention deleted), and a reader that
 * continues after the last seq it saw never skips one (test/feed/no-gap.postgres.test.ts).
 *
 * The all-tenants feed has no such lock across tenants. Each link row gets a `feed_key`, the
 * writing transaction's id (pg_current_xact_id(), 64-bit, never wraps) raised to at least the
 * tenant's previous key (kept on the head row), and the feed reads, in (feed_key, tenant_id,
 * start_seq) order, only link rows whose key is below the snapshot's xmin (the oldest transaction
 * still running). Every transaction below xmin has ended, and any row not yet visible belongs to a
 * transaction whose id, hence whose key, is at least that xmin: so nothing can later appear behind
 * a position already read. Raising the key to the previous one keeps each tenant's seqs in order
 * (two batches of one tenant may take transaction ids in the opposite order of their seqs).
 * The price: one index entry per link row (one per tenant per batch, not per event), and an event
 * waits on the all-tenants feed until every older writing transaction has ended.
 *
 * Rows chained before migration 7 keep seq and hash in audit_logs (no link row): they, and link
 * rows written before this migration, have key 0 and come first, ordered by (tenant_id, seq).
 */
import { EVENT_FIELDS } from '../../event/types.js'
import { LOCK_HEADS_PLPGSQL } from './chain-sql.js'

/** auditq_chain_v3 as migration 7 made it, plus the feed key (marked `-- feed`). Same signature, so INSERT_LINKED_SQL is unchanged. */
export const CHAIN_V3_WITH_FEED_KEY = `CREATE OR REPLACE FUNCTION auditq_chain_v3(p_inserted bigint, p_tenants text[], p_counts int[], p_offsets int[],
    p_ids uuid[], p_digests bytea, p_genesis text, p_expected_seqs bigint[], p_expected_hashes text[], p_links bytea,
    OUT o_end_seqs bigint[], OUT o_end_hashes text[], OUT o_taken boolean)
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    n int := length(p_digests) / 32;
    start_seqs bigint[];
    start_hashes text[];
    start_keys bigint[]; -- feed
    my_key bigint := pg_current_xact_id()::text::bigint; -- feed
    links bytea;
    digests bytea[];
    parts bytea[];
    d bytea;
    h bytea;
    i int := 0;
    existing int;
  BEGIN
    IF p_inserted <> n OR cardinality(p_ids) <> n OR length(p_digests) % 32 <> 0 OR length(p_links) <> length(p_digests)
       OR (SELECT sum(c) FROM unnest(p_counts) AS c) <> n THEN
      RAISE EXCEPTION 'auditq_chain_v3: % inserted, % ids, % bytes of digests, counts %', p_inserted, cardinality(p_ids), length(p_digests), p_counts;
    END IF;
${LOCK_HEADS_PLPGSQL}    SELECT array_agg(hd.seq ORDER BY u.o), array_agg(hd.hash ORDER BY u.o), array_agg(greatest(hd.feed_key, my_key) ORDER BY u.o)
      INTO start_seqs, start_hashes, start_keys
      FROM unnest(p_tenants) WITH ORDINALITY AS u(t, o) JOIN audit_chain_heads hd ON hd.tenant_id = u.t;
    o_taken := coalesce(p_links IS NOT NULL AND start_seqs = p_expected_seqs AND start_hashes = p_expected_hashes, false);
    IF o_taken THEN
      links := p_links;
    ELSE
      digests := ARRAY(SELECT substring(p_digests FROM k * 32 - 31 FOR 32) FROM generate_series(1, n) AS k ORDER BY k);
      parts := array_fill(''::bytea, ARRAY[n]);
      FOR t IN 1 .. cardinality(p_tenants) LOOP
        h := auditq_hash_bytes(start_hashes[t]);
        FOREACH d IN ARRAY digests[p_offsets[t] + 1 : p_offsets[t] + p_counts[t]] LOOP
          i := i + 1;
          h := sha256(h || d);
          parts[i] := h;
        END LOOP;
      END LOOP;
      SELECT string_agg(x, ''::bytea ORDER BY o) INTO links FROM unnest(parts) WITH ORDINALITY AS u(x, o);
    END IF;
    INSERT INTO audit_chain_links (tenant_id, start_seq, prev_hash, ids, links, feed_key)
      SELECT u.t, u.s + 1, u.h, p_ids[u.off + 1 : u.off + u.c], substring(links FROM u.off * 32 + 1 FOR u.c * 32), u.k
      FROM unnest(p_tenants, start_seqs, start_hashes, p_counts, p_offsets, start_keys) AS u(t, s, h, c, off, k);
    SELECT array_agg(u.s + u.c ORDER BY u.o), array_agg(encode(substring(links FROM (u.off + u.c) * 32 - 31 FOR 32), 'hex') ORDER BY u.o)
      INTO o_end_seqs, o_end_hashes
      FROM unnest(start_seqs, p_counts, p_offsets) WITH ORDINALITY AS u(s, c, off, o);
    UPDATE audit_chain_heads hd SET seq = u.s, hash = u.x, feed_key = u.k
      FROM unnest(p_tenants, o_end_seqs, o_end_hashes, start_keys) AS u(t, s, x, k) WHERE hd.tenant_id = u.t;
  END $$`

/** Migration 35. Link rows and heads that exist now get key 0 (the column default, then dropped so no writer can forget it). */
export const FEED_MIGRATION = [
  "ALTER TABLE audit_chain_links ADD COLUMN feed_key bigint NOT NULL DEFAULT 0",
  'ALTER TABLE audit_chain_links ALTER COLUMN feed_key DROP DEFAULT',
  'ALTER TABLE audit_chain_heads ADD COLUMN feed_key bigint NOT NULL DEFAULT 0',
  // The all-tenants feed's page is a range scan of this index; a tenant's feed uses the primary key.
  'CREATE INDEX audit_chain_links_feed_idx ON audit_chain_links (feed_key, tenant_id, start_seq)',
  CHAIN_V3_WITH_FEED_KEY,
]

const EVENT_COLUMNS = EVENT_FIELDS.map((field) => `a.${field}`).join(', ')

/**
 * Each position's event is looked up LATERAL, so it is always one probe of the (tenant_id, id)
 * primary key per position, whatever the planner estimates (a hash join would scan the table;
 * LIMIT 1 keeps the planner from flattening the subquery into that join). The lookup names the
 * event's occurred_at too (the link row's `occurred`, migration 81; a legacy row's own), so on the
 * partitioned layout it probes one partition, not every one.
 *
 * Positions of the link rows `links` (a CTE the caller defines), unnested, each with its event
 * (NULL where retention deleted it). `after` is a row comparison over (key, tenant, seq).
 */
const positionsOf = (after: string, order: string, limit: string) => `pos AS (
    SELECT l.feed_key AS k, l.tenant_id AS t, l.start_seq + u.o - 1 AS seq, u.id,
      encode(substring(l.links FROM u.o::int * 32 - 31 FOR 32), 'hex') AS hash, u.at
    FROM links l CROSS JOIN LATERAL unnest(l.ids, l.occurred) WITH ORDINALITY AS u(id, at, o)
    WHERE ${after}
    ORDER BY ${order} LIMIT ${limit}
  )`

const SELECT_POSITIONS = `SELECT p.k::text AS feed_key, p.t AS position_tenant, p.seq, p.hash, a.tenant_id IS NOT NULL AS present, ${EVENT_COLUMNS}`

/**
 * One tenant's feed after seq $2: $1 tenant, $3 limit. The link row holding $2 (a batch may be read
 * part-way) and the next $3 link rows by primary key, and legacy rows by the chain index.
 */
export const TENANT_FEED_SQL = `WITH links AS (
    (SELECT feed_key, tenant_id, start_seq, ids, links, occurred FROM audit_chain_links
      WHERE tenant_id = $1 AND start_seq <= $2::bigint ORDER BY start_seq DESC LIMIT 1)
    UNION ALL
    (SELECT feed_key, tenant_id, start_seq, ids, links, occurred FROM audit_chain_links
      WHERE tenant_id = $1 AND start_seq > $2::bigint ORDER BY start_seq LIMIT $3)
  ), ${positionsOf('l.start_seq + u.o - 1 > $2::bigint', '3', '$3')},
  legacy AS (
    SELECT 0::bigint AS k, tenant_id AS t, seq, id, hash, occurred_at AS at FROM audit_logs
    WHERE tenant_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3
  )
  ${SELECT_POSITIONS}
  FROM (SELECT * FROM pos UNION ALL SELECT * FROM legacy) p
  LEFT JOIN LATERAL (SELECT * FROM audit_logs a WHERE a.tenant_id = p.t AND a.id = p.id AND a.occurred_at = p.at LIMIT 1) a ON true
  ORDER BY p.seq LIMIT $3`

/**
 * The all-tenants feed after ($1 key, $2 tenant, $3 seq), $4 limit; only keys below the
 * snapshot's xmin (see the top of this file). Legacy rows only while the cursor is still at key 0.
 */
export const ALL_FEED_SQL = `WITH horizon AS (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS h
  ), links AS (
    (SELECT feed_key, tenant_id, start_seq, ids, links, occurred FROM audit_chain_links
      WHERE feed_key = $1::bigint AND tenant_id = $2 AND start_seq <= $3::bigint ORDER BY feed_key, tenant_id, start_seq DESC LIMIT 1)
    UNION ALL
    (SELECT feed_key, tenant_id, start_seq, ids, links, occurred FROM audit_chain_links
      WHERE (feed_key, tenant_id, start_seq) > ($1::bigint, $2, $3::bigint) AND feed_key < (SELECT h FROM horizon)
      ORDER BY feed_key, tenant_id, start_seq LIMIT $4)
  ), ${positionsOf('(l.feed_key, l.tenant_id, l.start_seq + u.o - 1) > ($1::bigint, $2, $3::bigint)', '1, 2, 3', '$4')},
  legacy AS (
    SELECT 0::bigint AS k, tenant_id AS t, seq, id, hash, occurred_at AS at FROM audit_logs
    WHERE $1::bigint = 0 AND seq IS NOT NULL AND (tenant_id, seq) > ($2, $3::bigint) ORDER BY tenant_id, seq LIMIT $4
  )
  ${SELECT_POSITIONS}
  FROM (SELECT * FROM pos UNION ALL SELECT * FROM legacy) p
  LEFT JOIN LATERAL (SELECT * FROM audit_logs a WHERE a.tenant_id = p.t AND a.id = p.id AND a.occurred_at = p.at LIMIT 1) a ON true
  ORDER BY p.k, p.t, p.seq LIMIT $4`
