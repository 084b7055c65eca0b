/**
 * Chain layout 2 for PostgreSQL (migration 7): the chain lives beside the events instead of in
 * their rows. A chained batch inserts its events with no chain columns, in parallel with every
 * other writer, and only then, at the end of the same statement, locks its tenants' heads and
 * writes one `audit_chain_links` row per tenant: the event ids in chain order and their packed
 * 32-byte links. So concurrent writers of one tenant wait for each other only for that one row
 * and the commit, not for a whole batch of wide rows with their indexes; with the links in the
 * rows (layout 1), four worker processes on one tenant inserted one batch at a time (docs/decisions.md).
 *
 * The event at seq `start_seq + k - 1` is `ids[k]`, its hash `links[k]`, and the hash it was linked
 * from `links[k - 1]` (for k = 1, the row's `prev_hash`: the head the batch started from).
 * Rows chained before migration 7 keep seq, prev_hash and hash in audit_logs; verify reads those
 * first and the link rows after them. Retention deletes events and keeps their links, so a
 * deleted event's hash stays on record. Pure text, no connection.
 */
import { EVENT_FIELDS } from '../../event/types.js'
import { LOCK_HEADS_PLPGSQL, notHeld } from './chain-sql.js'
import { INSERT_COLUMNS, unnestSource } from './sql.js'

/**
 * Locks the batch's heads (LOCK_HEADS_PLPGSQL: one sorted pass, so batches cannot deadlock on
 * heads), links the events, writes one link row per tenant and moves each head once.
 * The batch arrives grouped by tenant (Node sorts it, stably): tenant t's events are the
 * `p_counts[t]` after `p_offsets[t]` in `p_ids` and the packed `p_digests`. Links come from the
 * caller when the locked heads are exactly `p_expected_*` (see head-cache.ts), else from the loop
 * here. `p_inserted` is how many events the statement inserted before calling: it must be all of
 * them, and taking it as an argument is what makes the INSERT finish before the heads are locked.
 * Returns where each head ends, for the caller's next batch.
 */
const CHAIN_V3_FUNCTION = `CREATE FUNCTION auditq_chain_v3(p_inserted bigint, p_tenants text[], p_counts int[], p_offsets int[],
    p_ids uuid[], p_digests bytea, p_genesis text, p_expected_seqs bigint[], p_expected_hashes text[], p_links bytea,
    OUT o_end_seqs bigint[], OUT o_end_hashes text[], OUT o_taken boolean)
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    n int := length(p_digests) / 32;
    start_seqs bigint[];
    start_hashes text[];
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
${LOCK_HEADS_PLPGSQL}    SELECT array_agg(hd.seq ORDER BY u.o), array_agg(hd.hash ORDER BY u.o) INTO start_seqs, start_hashes
      FROM unnest(p_tenants) WITH ORDINALITY AS u(t, o) JOIN audit_chain_heads hd ON hd.tenant_id = u.t;
    o_taken := coalesce(p_links IS NOT NULL AND start_seqs = p_expected_seqs AND start_hashes = p_expected_hashes, false);
    IF o_taken THEN
      links := p_links;
    ELSE
      -- Split once, then FOREACH: 0.8 ms per 500 against 1.6 ms for a substring per iteration.
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
    INSERT INTO audit_chain_links (tenant_id, start_seq, prev_hash, ids, links)
      SELECT u.t, u.s + 1, u.h, p_ids[u.off + 1 : u.off + u.c], substring(links FROM u.off * 32 + 1 FOR u.c * 32)
      FROM unnest(p_tenants, start_seqs, start_hashes, p_counts, p_offsets) AS u(t, s, h, c, off);
    SELECT array_agg(u.s + u.c ORDER BY u.o), array_agg(encode(substring(links FROM (u.off + u.c) * 32 - 31 FOR 32), 'hex') ORDER BY u.o)
      INTO o_end_seqs, o_end_hashes
      FROM unnest(start_seqs, p_counts, p_offsets) WITH ORDINALITY AS u(s, c, off, o);
    UPDATE audit_chain_heads hd SET seq = u.s, hash = u.x
      FROM unnest(p_tenants, o_end_seqs, o_end_hashes) AS u(t, s, x) WHERE hd.tenant_id = u.t;
  END $$`

/**
 * Migration 7. The link rows are append-only without exception: retention deletes events, never
 * their links (so a cut's hash, and every deleted event's, stays on record).
 */
export const CHAIN_LINKS_MIGRATION = [
  `CREATE TABLE audit_chain_links (
    tenant_id text   NOT NULL,
    start_seq bigint NOT NULL,
    prev_hash text   NOT NULL,
    ids       uuid[] NOT NULL,
    links     bytea  NOT NULL,
    PRIMARY KEY (tenant_id, start_seq)
  )`,
  `CREATE TRIGGER audit_chain_links_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_chain_links
    FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`,
  CHAIN_V3_FUNCTION,
  'DROP FUNCTION auditq_chain_v2(text[], int[], bytea, text, bigint[], text[], bytea)',
]

const N = EVENT_FIELDS.length
const ID_PARAM = `$${EVENT_FIELDS.indexOf('id') + 1}::uuid[]`
const OCCURRED_PARAM = `$${EVENT_FIELDS.indexOf('occurred_at') + 1}::timestamptz[]`

/**
 * The whole chained insert as one statement, so one round trip and its own transaction: insert the
 * events, then (the function takes their count as an argument, so only once every row is in)
 * lock, link and write the link rows (with the events' occurred_at, migration 81). No ON CONFLICT: an id the tenant already stored fails the
 * statement with a unique violation on the primary key, before any head is locked, and the caller
 * re-plans without it, so a duplicate never takes a seq.
 * Parameters after the columns: tenants, counts, offsets, packed digests, genesis, expected head
 * seqs and hashes, packed links (or NULL), and last the search documents (tsvector literals).
 */
export const INSERT_LINKED_SQL = `WITH inserted AS (
    INSERT INTO audit_logs (${INSERT_COLUMNS})
    ${unnestSource(N + 9)}
    RETURNING 1
  )
  SELECT c.o_end_seqs AS end_seqs, c.o_end_hashes AS end_hashes, c.o_taken AS taken
  FROM (SELECT count(*) AS n FROM inserted) AS i,
    auditq_chain_v4(i.n, $${N + 1}::text[], $${N + 2}::int[], $${N + 3}::int[], ${ID_PARAM}, $${N + 4}::bytea, $${N + 5}::text,
      $${N + 6}::bigint[], $${N + 7}::text[], $${N + 8}::bytea, ${OCCURRED_PARAM}) AS c`

export const INSERT_LINKED_NAME = 'auditq_insert_linked'

/**
 * The link rows of tenant $1 that hold seqs in [$2, $3], in order, with their sizes: verify walks
 * them in windows (SELECT_LINKED_WINDOW_SQL) so that the database never sorts more than one window.
 */
export const LINK_ROWS_SQL = `SELECT start_seq, cardinality(ids) AS n FROM audit_chain_links
  WHERE tenant_id = $1 AND start_seq <= $3::bigint AND start_seq + cardinality(ids) - 1 >= $2::bigint
  ORDER BY start_seq`

/**
 * Tenant $1's linked events in chain order, for the link rows starting in [$2, $3] and seqs in
 * [$4, $5]. A position whose event is gone (deleted by retention, or by someone else) is left out,
 * so the walker sees the gap (after a cleanup most positions are such gaps). Each link row is
 * joined to its own events; the sort covers only this window (the planner would otherwise
 * estimate ten events per link row and sort a whole tenant at once). Each position's lookup names
 * its event's occurred_at too, so on the partitioned layout it probes one partition, not all.
 */
export const SELECT_LINKED_WINDOW_SQL = `SELECT ${EVENT_FIELDS.map((field) => `x.${field}`).join(', ')}, x.canonical_version, l.start_seq + x.o - 1 AS seq,
    CASE WHEN x.o = 1 THEN l.prev_hash ELSE encode(substring(l.links FROM x.o::int * 32 - 63 FOR 32), 'hex') END AS prev_hash,
    encode(substring(l.links FROM x.o::int * 32 - 31 FOR 32), 'hex') AS hash
  FROM audit_chain_links l
  CROSS JOIN LATERAL (
    SELECT u.o, ${EVENT_FIELDS.map((field) => `a.${field}`).join(', ')}, a.canonical_version
    FROM unnest(l.ids, l.occurred) WITH ORDINALITY AS u(id, at, o)
    JOIN audit_logs a ON a.tenant_id = l.tenant_id AND a.id = u.id AND a.occurred_at = u.at
  ) x
  WHERE l.tenant_id = $1 AND l.start_seq BETWEEN $2::bigint AND $3::bigint AND l.start_seq + x.o - 1 BETWEEN $4::bigint AND $5::bigint
  ORDER BY l.start_seq, x.o`

/**
 * Events in neither layout's chain, counted as (events with seq NULL) − (linked positions whose
 * event is stored with seq NULL): UNCHAINED_EVENTS_SQL minus LINKED_PRESENT_SQL, per tenant,
 * subtracted by the caller. Verify's price for seeing rows inserted around the chain.
 *
 * Two statements with no join between them, because every join formulation of "events in no link
 * row" left the plan to statistics: with none (a fresh table, autovacuum off or behind), the
 * planner guessed a few dozen rows for `seq IS NULL`, which is every event since migration 7,
 * and chose a nested loop that unnested all of a tenant's link rows once per event: 20,000 events
 * took 29 s instead of 1.4 s. Here each statement has one scan and one aggregate; the lookup per
 * linked id is a scalar subquery, which PostgreSQL never turns into a join, so it stays one probe
 * of the (tenant_id, id) primary key per position whatever the estimates. DISTINCT keeps an id
 * listed twice (only tampering could do that) from hiding an unchained event.
 */
export const UNCHAINED_EVENTS_SQL = (tenant: boolean) => `SELECT tenant_id, count(*) AS count FROM audit_logs
  WHERE seq IS NULL${tenant ? ' AND tenant_id = $1' : ''} GROUP BY tenant_id`

export const LINKED_PRESENT_SQL = (tenant: boolean) => `SELECT l.tenant_id, count(DISTINCT u.id) AS count
  FROM audit_chain_links l CROSS JOIN LATERAL unnest(l.ids, l.occurred) AS u(id, at)
  WHERE ${tenant ? 'l.tenant_id = $1 AND ' : ''}(SELECT a.seq IS NULL FROM audit_logs a WHERE a.tenant_id = l.tenant_id AND a.id = u.id AND a.occurred_at = u.at)
  GROUP BY l.tenant_id`

/** Tenants with a chain in either layout. */
export const CHAINED_TENANTS_SQL = `SELECT DISTINCT tenant_id FROM audit_logs WHERE seq IS NOT NULL
  UNION SELECT DISTINCT tenant_id FROM audit_chain_links`

/** The hash at (tenant $1, seq $2) from the link row that holds it. */
export const LINKED_HASH_AT_SQL = `SELECT encode(substring(links FROM ($2::bigint - start_seq)::int * 32 + 1 FOR 32), 'hex') AS hash
  FROM (SELECT start_seq, links, cardinality(ids) AS n FROM audit_chain_links
        WHERE tenant_id = $1 AND start_seq <= $2::bigint ORDER BY start_seq DESC LIMIT 1) l
  WHERE $2::bigint < l.start_seq + l.n`

/** Per tenant: how many linked events retention may delete ($1 cutoff, $2 kept actions, $3 one tenant or NULL), and the highest seq among them. */
export const LINKED_RETENTION_CANDIDATES_SQL = `SELECT p.tenant_id, count(*) AS count, max(p.seq) AS max_seq
  FROM (SELECT l.tenant_id, l.start_seq + u.o - 1 AS seq, u.id, u.at
        FROM audit_chain_links l CROSS JOIN LATERAL unnest(l.ids, l.occurred) WITH ORDINALITY AS u(id, at, o)) p
  JOIN audit_logs a ON a.tenant_id = p.tenant_id AND a.id = p.id AND a.occurred_at = p.at
  WHERE a.occurred_at < $1::timestamptz AND NOT (a.action = ANY($2::text[])) AND ($3::text IS NULL OR p.tenant_id = $3::text)
  GROUP BY p.tenant_id`

/** The first seq of the tenant's link rows ($1), NULL when it has none. */
export const FIRST_LINKED_SEQ_SQL = 'SELECT min(start_seq) AS seq FROM audit_chain_links WHERE tenant_id = $1'

/**
 * One retention chunk over link rows, $1 the tenant, $2 where the previous chunk ended, $3 the
 * chunk size, $4 the cut, $5/$6/$7 the rule (cutoff, kept actions, legal holds as jsonb). Deletes the first $3 events after
 * $2 and up to the cut that the rule covers, looking only at link rows spanning about $3 seqs from
 * $2 (the one holding $2 + 1 and those starting within $3 of it, or else the next one), so a chunk
 * costs the same wherever it is in a long chain. Returns how many it deleted, the last seq deleted
 * and where the rows it looked at end.
 */
export const DELETE_LINKED_CHUNK_SQL = `WITH span AS (
    SELECT start_seq, ids, occurred FROM audit_chain_links
    WHERE tenant_id = $1 AND start_seq <= $4::bigint
      AND start_seq >= coalesce((SELECT max(start_seq) FROM audit_chain_links WHERE tenant_id = $1 AND start_seq <= $2::bigint + 1), 0)
      AND (start_seq <= $2::bigint + $3::bigint
           OR start_seq = (SELECT min(start_seq) FROM audit_chain_links WHERE tenant_id = $1 AND start_seq > $2::bigint))
  ), victims AS (
    SELECT p.seq, p.id, p.at
    FROM (SELECT s.start_seq + u.o - 1 AS seq, u.id, u.at FROM span s CROSS JOIN LATERAL unnest(s.ids, s.occurred) WITH ORDINALITY AS u(id, at, o)) p
    JOIN audit_logs a ON a.tenant_id = $1 AND a.id = p.id AND a.occurred_at = p.at
    WHERE p.seq > $2::bigint AND p.seq <= $4::bigint AND a.occurred_at < $5::timestamptz AND NOT (a.action = ANY($6::text[]))
      AND ${notHeld(7, 'a')}
    ORDER BY p.seq LIMIT $3
  ), gone AS (
    DELETE FROM audit_logs a USING victims v WHERE a.tenant_id = $1 AND a.id = v.id AND a.occurred_at = v.at
    RETURNING v.seq
  )
  SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT max(seq) FROM gone) AS last_deleted,
    (SELECT least(max(start_seq + cardinality(ids) - 1), $4::bigint) FROM span) AS span_end`

/**
 * The partitioned layout's guard for ids (migration 80). Each partition's key refuses an id
 * already in that partition; an id stored in another partition (the same event sent again with a
 * different occurred_at, e.g. a client retry whose occurred_at the server filled in) would be a
 * second row with one (tenant_id, id), which verify and the feed cannot tell apart. This looks
 * for such a row within `p_window` of each event's occurred_at, which run-time pruning keeps to
 * one or two partitions, and raises the same unique violation the key would, so the caller's
 * re-plan without the stored ids applies. It locks the heads first (as auditq_chain_v3 then does
 * again, holding them already): every batch of a tenant checks in turn, after the previous one
 * committed, so two copies racing into two partitions cannot both pass.
 * Returns `p_inserted`, so it runs before the chain function it is an argument of.
 */
export const UNIQUE_IDS_FUNCTION = `CREATE FUNCTION auditq_unique_ids(p_inserted bigint, p_tenants text[], p_genesis text,
    p_tenant_of text[], p_ids uuid[], p_occurred timestamptz[], p_window interval) RETURNS bigint
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    existing int;
    dup uuid;
  BEGIN
${LOCK_HEADS_PLPGSQL}    SELECT u.id INTO dup FROM unnest(p_tenant_of, p_ids, p_occurred) AS u(t, id, at)
      WHERE (SELECT count(*) FROM audit_logs a
             WHERE a.tenant_id = u.t AND a.id = u.id AND a.occurred_at BETWEEN u.at - p_window AND u.at + p_window) > 1
      LIMIT 1;
    IF dup IS NOT NULL THEN
      RAISE EXCEPTION 'duplicate key value: id % is already stored in another partition', dup
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'audit_logs_pkey';
    END IF;
    RETURN p_inserted;
  END $$`

/**
 * How far apart two copies' occurred_at may be for the guard to refuse the second: a day, the
 * clock skew the validator accepts, and far beyond how late retries and redeliveries arrive.
 */
export const UNIQUE_ID_WINDOW = '24 hours'

const TENANT_PARAM = `$${EVENT_FIELDS.indexOf('tenant_id') + 1}::text[]`

/** INSERT_LINKED_SQL with the guard between the insert and the chain (see UNIQUE_IDS_FUNCTION). */
export const INSERT_LINKED_PARTITIONED_SQL = INSERT_LINKED_SQL.replace(
  'auditq_chain_v4(i.n,',
  `auditq_chain_v4(auditq_unique_ids(i.n, $${N + 1}::text[], $${N + 5}::text, ${TENANT_PARAM}, ${ID_PARAM}, ${OCCURRED_PARAM}, '${UNIQUE_ID_WINDOW}'::interval),`,
)
export const INSERT_LINKED_PARTITIONED_NAME = 'auditq_insert_linked_partitioned'
