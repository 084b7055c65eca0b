/**
 * Migration 81: each link row carries its events' occurred_at (`occurred`, parallel to `ids`).
 *
 * Why: every read that goes from a chain position to its event (verify's windows, the cut that
 * retention records, the chunked delete along the chain, the count of linked events) looks the
 * event up by (tenant_id, id). On the plain table that is one primary-key probe. On the
 * time-partitioned layout occurred_at is the partition key and no index spans partitions, so the
 * same lookup probes every partition's key: a retention run at 1,000,000 events over 32 weekly
 * partitions recorded 2 of its 10 tenants' cuts in 8 minutes (BENCHMARKS.md, "Partitioned
 * PostgreSQL"). With occurred_at beside the id the lookup names its partition, and run-time
 * pruning keeps it to that one.
 *
 * The array is a lookup hint, outside what the chain hashes. A wrong element can only make an
 * event look missing: a gap verify reports above a cut, and below one the cut's digest of the
 * rows it kept no longer matches. An element is NULL where the event was already gone when the
 * migration filled the array (deleted by retention), which matches nothing, as it should.
 *
 * Pure text, no connection.
 */
import { CHAIN_V3_WITH_FEED_KEY } from './feed-sql.js'

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from)
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`link-occurred-sql: expected one ${JSON.stringify(from)}`)
  return text.slice(0, at) + to + text.slice(at + from.length)
}

/**
 * auditq_chain_v3 as migration 35 left it, renamed, taking the events' occurred_at in batch order
 * (`p_occurred`, as `p_ids`) and writing each tenant's slice of it into its link row.
 */
const CHAIN_V4_FUNCTION = [
  ['CREATE OR REPLACE FUNCTION auditq_chain_v3(', 'CREATE FUNCTION auditq_chain_v4('],
  ['p_links bytea,\n', 'p_links bytea, p_occurred timestamptz[],\n'],
  ['OR cardinality(p_ids) <> n OR', 'OR cardinality(p_ids) <> n OR cardinality(p_occurred) <> n OR'],
  ["RAISE EXCEPTION 'auditq_chain_v3:", "RAISE EXCEPTION 'auditq_chain_v4:"],
  ['(tenant_id, start_seq, prev_hash, ids, links, feed_key)', '(tenant_id, start_seq, prev_hash, ids, links, feed_key, occurred)'],
  ['substring(links FROM u.off * 32 + 1 FOR u.c * 32), u.k\n', 'substring(links FROM u.off * 32 + 1 FOR u.c * 32), u.k, p_occurred[u.off + 1 : u.off + u.c]\n'],
].reduce((text, [from, to]) => replaceOnce(text, from!, to!), CHAIN_V3_WITH_FEED_KEY)

/**
 * Fills `occurred` for the link rows that exist. One pass, joined (not a probe per position, which
 * on the partitioned layout is the cost this migration removes); grouped per position first, so a
 * (tenant_id, id) stored twice in two partitions (what the id guard of migration 80 refuses) still
 * yields one element per position.
 */
const BACKFILL_SQL = `UPDATE audit_chain_links l SET occurred = f.occurred
  FROM (
    SELECT p.tenant_id, p.start_seq, array_agg(p.at ORDER BY p.o) AS occurred
    FROM (
      SELECT k.tenant_id, k.start_seq, u.o, min(a.occurred_at) AS at
      FROM audit_chain_links k CROSS JOIN LATERAL unnest(k.ids) WITH ORDINALITY AS u(id, o)
      LEFT JOIN audit_logs a ON a.tenant_id = k.tenant_id AND a.id = u.id
      GROUP BY k.tenant_id, k.start_seq, u.o
    ) p
    GROUP BY p.tenant_id, p.start_seq
  ) f
  WHERE l.tenant_id = f.tenant_id AND l.start_seq = f.start_seq`

/**
 * Migration 81. The link rows stay append-only: the guard is lifted for this one statement inside
 * the migration's transaction (which holds the table's lock throughout), then the column is made
 * NOT NULL so no writer can leave it out. auditq_chain_v3 is dropped, as migration 7 dropped v2: a
 * process still running older code then fails its inserts loudly instead of writing link rows
 * without the column.
 */
export const LINK_OCCURRED_MIGRATION = [
  'ALTER TABLE audit_chain_links ADD COLUMN occurred timestamptz[]',
  'ALTER TABLE audit_chain_links DISABLE TRIGGER audit_chain_links_append_only',
  BACKFILL_SQL,
  'ALTER TABLE audit_chain_links ENABLE TRIGGER audit_chain_links_append_only',
  'ALTER TABLE audit_chain_links ALTER COLUMN occurred SET NOT NULL',
  CHAIN_V4_FUNCTION,
  'DROP FUNCTION auditq_chain_v3(bigint, text[], int[], int[], uuid[], bytea, text, bigint[], text[], bytea)',
]
