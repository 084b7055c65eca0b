/**
 * The table bench/index-review.ts measures: 1,000,000 events over 90 days, generated in the
 * server (seconds instead of minutes through the store), with chain link rows and heads as the
 * store writes them (one link row per tenant per batch of ~25), so verify, feed and retention read
 * what they read in production. Hashes are zeros: the plans do not look at them.
 *
 * Shape: 200 tenants, Zipf-like (tenant_0 ~ 27 %, tenant_12 ~ 1 %, the smallest ~ 0.13 %); 5 % 'system' actor,
 * otherwise up to 2,000 users per tenant, skewed; 50,000 resources in 8 types; 200 actions,
 * skewed; 5 % failures with five error messages; 2 % critical, 8 % warning; half the events carry
 * a producer sequence (16 producers, consecutive numbers); a search document of action, actor,
 * resource and error words, as src/query/search/document.ts would tokenize them.
 */
import type { AuditEvent } from '../src/event/types.js'
import { skewedEvent } from './event.js'

export const FILL_START = Date.parse('2026-03-01T00:00:00.000Z')
export const FILL_DAYS = 90
/** Inserts measured after the fill get occurred_at from here on, so they can be deleted again. */
export const NEW_EVENTS_FROM = FILL_START + FILL_DAYS * 86_400_000
const LINK_ROW_EVENTS = 25
const ERRORS = ['denied', 'rate limited', 'not found', 'invalid token', 'timeout']

/** Column list of the fill, in the SELECT's order. */
const FILL_COLUMNS = `id, tenant_id, occurred_at, received_at, action, category, actor_id, actor_type, resource_type, resource_id,
  success, error_message, ip_address, user_agent, session_id, request_id, metadata, producer_id, producer_seq, search, canonical_version`

export function fillSql(rows: number): string {
  return `INSERT INTO audit_logs (${FILL_COLUMNS})
  SELECT id, tenant, ts, ts, action, category, actor, 'user', rtype, rid, ok, err, ip, ua, sess, 'req-' || g, meta, producer, pseq,
    array_to_tsvector(array_remove(ARRAY[replace(action, '.', ''), 'u' || anum, 'tenant' || tnum, rtype, replace(rid, '-', ''),
      CASE WHEN NOT ok THEN split_part(err, ' ', 1) END], NULL)), 2
  FROM (SELECT g, ts, tenant, tnum, anum,
          (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(md5(g::text), 1, 3) || '8'
            || substr(md5(g::text || 'x'), 1, 15))::uuid AS id,
          'action.' || floor(200 * power(r3, 3))::int AS action,
          CASE WHEN r4 < 0.02 THEN 'critical' WHEN r4 < 0.10 THEN 'warning' ELSE 'info' END AS category,
          CASE WHEN anum < 0 THEN 'system' ELSE tenant || '-user-' || anum END AS actor,
          'type' || floor(8 * r5)::int AS rtype, 'res-' || floor(50000 * r7)::int AS rid,
          r6 >= 0.05 AS ok, CASE WHEN r6 < 0.05 THEN (ARRAY[${ERRORS.map((e) => `'${e}'`).join(', ')}])[1 + floor(r6 * 100)::int] END AS err,
          ('10.' || floor(r5 * 255)::int || '.' || floor(r7 * 255)::int || '.1')::inet AS ip,
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36' AS ua,
          'sess-' || floor(r3 * 100000)::int AS sess,
          jsonb_build_object('key_name', 'ci', 'permissions', jsonb_build_array('read', 'write'), 'n', g) AS meta,
          CASE WHEN g % 2 = 0 THEN 'app-' || (g / 2) % 16 END AS producer,
          CASE WHEN g % 2 = 0 THEN (g / 2) / 16 + 1 END AS pseq
        FROM (SELECT g, timestamptz '${new Date(FILL_START).toISOString()}' + g * (interval '${FILL_DAYS} days' / ${rows}) AS ts,
                'tenant_' || t AS tenant, t AS tnum,
                CASE WHEN random() < 0.05 THEN -1 ELSE floor(2000 * power(random(), 2))::int END AS anum,
                random() AS r3, random() AS r4, random() AS r5, random() AS r6, random() AS r7
              FROM (SELECT g, floor(200 * power(random(), 4))::int AS t FROM generate_series(1, ${rows}) AS g) AS z) AS s) AS f`
}

/** One link row per tenant per ~25 events in time order, keys rising per tenant; then the heads. */
export const LINKS_SQL = [
  `INSERT INTO audit_chain_links (tenant_id, start_seq, prev_hash, ids, links, feed_key)
   SELECT tenant_id, min(rn), repeat('0', 64), array_agg(id ORDER BY rn), decode(repeat('00', 32 * count(*)::int), 'hex'), min(k)
   FROM (SELECT tenant_id, id, row_number() OVER w AS rn, (extract(epoch FROM occurred_at) * 1000)::bigint AS k
         FROM audit_logs WINDOW w AS (PARTITION BY tenant_id ORDER BY occurred_at, id)) s
   GROUP BY tenant_id, (rn - 1) / ${LINK_ROW_EVENTS}`,
  `INSERT INTO audit_chain_heads (tenant_id, seq, hash, feed_key)
   SELECT tenant_id, max(start_seq + cardinality(ids) - 1), repeat('0', 64), max(feed_key) FROM audit_chain_links GROUP BY tenant_id`,
]

let sequence = 0

/** An event like the fill's, for the insert measurement: occurred_at after the filled range. */
export function newEvent(): AuditEvent {
  const at = new Date(NEW_EVENTS_FROM + 3 * sequence++).toISOString()
  const error = Math.random() < 0.05 ? ERRORS[Math.floor(Math.random() * ERRORS.length)]! : null
  return {
    ...skewedEvent({ at, n: sequence, error }),
    producer_id: sequence % 2 === 0 ? 'bench-producer' : null,
    producer_seq: sequence % 2 === 0 ? sequence / 2 : null,
  }
}
