/**
 * The queries bench/index-review.ts times: the store's own SQL (built by the same functions the
 * store calls) for every documented filter, the report's statements, verify's reads, both feeds,
 * retention's candidate count, completeness and lookups by id. Values are picked from the filled
 * table (bench/index-review-data.ts) so each names something that exists.
 */
import type pg from 'pg'
import { parseSearch } from '../src/query/search/syntax.js'
import type { EventFilter } from '../src/query/event-filter.js'
import type { ReportOptions } from '../src/report/model.js'
import { SELECT_BY_ID_AND_TENANT_SQL, SELECT_BY_ID_SQL } from '../src/store/postgres/by-id.js'
import { buildSelect } from '../src/store/postgres/sql.js'
import { bucketCounts, failuresByAction, topValues } from '../src/store/postgres/report-sql.js'
import { LINKED_PRESENT_SQL, LINKED_RETENTION_CANDIDATES_SQL, SELECT_LINKED_WINDOW_SQL, UNCHAINED_EVENTS_SQL } from '../src/store/postgres/chain-links-sql.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from '../src/store/postgres/feed-sql.js'
import { ACCOUNTING_ACTIONS } from '../src/completeness/accounting.js'
import { islandsSql } from '../src/store/producer-runs-merge.js'
import { FILL_START, NEW_EVENTS_FROM } from './index-review-data.js'

export interface BenchQuery {
  name: string
  /** Which product path it stands for: filter, report, verify, feed, retention, completeness, lookup. */
  kind: string
  text: string
  values: unknown[]
}

const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()
const PAGE = 101 // the API's page of 100, plus one to know there is a next page
const REPORT: ReportOptions = { topN: 10, topErrors: 3, bucket: 'day' }

export async function benchQueries(client: pg.Client): Promise<BenchQuery[]> {
  const one = async <T>(text: string, values: unknown[] = []) => (await client.query<T & pg.QueryResultRow>(text, values)).rows[0]!
  // A mid-sized tenant (~1 %) and one of the smallest (~0.13 %) as the fill made them; tenant_0 is the largest (~27 %).
  const mid = 'tenant_12'
  const small = 'tenant_190'
  const cursor = await one<{ occurred_at: Date; id: string }>(
    'SELECT occurred_at, id FROM audit_logs WHERE tenant_id = $1 ORDER BY occurred_at DESC, id DESC OFFSET 5000 LIMIT 1',
    [mid],
  )
  const anyId = await one<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM audit_logs WHERE tenant_id = $1 ORDER BY occurred_at LIMIT 1 OFFSET 777', [mid])
  const link = await one<{ start_seq: string; feed_key: string }>(
    "SELECT start_seq::text, feed_key::text FROM audit_chain_links WHERE tenant_id = $1 ORDER BY start_seq OFFSET 40 LIMIT 1",
    [mid],
  )
  const midKey = await one<{ k: string }>('SELECT feed_key::text AS k FROM audit_chain_links ORDER BY feed_key OFFSET 20000 LIMIT 1')
  const end = NEW_EVENTS_FROM
  const page = (name: string, filter: EventFilter, after?: { occurred_at: string; id: string }): BenchQuery => {
    const { text, values } = buildSelect(filter, after, PAGE)
    return { name, kind: 'filter', text, values }
  }
  const report = (name: string, statement: { text: string; values: unknown[] }): BenchQuery => ({ name, kind: 'report', ...statement })
  const month = { tenant_id: mid, from: iso(end - 30 * DAY), to: iso(end) }
  const allWeek = { from: iso(end - 7 * DAY), to: iso(end) }
  return [
    page('newest page, all tenants', {}),
    page('tenant (largest)', { tenant_id: 'tenant_0' }),
    page('tenant (small)', { tenant_id: small }),
    page('tenant, page 50 (keyset)', { tenant_id: mid }, { occurred_at: cursor.occurred_at.toISOString(), id: cursor.id }),
    page('tenant + actor', { tenant_id: mid, actor_id: `${mid}-user-3` }),
    page('actor, all tenants', { actor_id: 'tenant_5-user-40' }),
    page("tenant + actor 'system'", { tenant_id: small, actor_id: 'system' }),
    page('tenant + resource', { tenant_id: mid, resource_type: 'type3', resource_id: 'res-4242' }),
    page('resource, all tenants', { resource_id: 'res-4242' }),
    page('tenant + action (common)', { tenant_id: mid, action: 'action.0' }),
    page('tenant + action (rare)', { tenant_id: mid, action: 'action.190' }),
    page('action (rare), all tenants', { action: 'action.190' }),
    page('tenant + failed', { tenant_id: small, success: false }),
    page('failed, all tenants', { success: false }),
    page('tenant + critical', { tenant_id: small, category: 'critical' }),
    page('critical, all tenants', { category: 'critical' }),
    page('tenant + one day', { tenant_id: mid, from: iso(FILL_START + 40 * DAY), to: iso(FILL_START + 41 * DAY) }),
    page('one day, all tenants', { from: iso(FILL_START + 40 * DAY), to: iso(FILL_START + 41 * DAY) }),
    page('tenant + failed + one week', { tenant_id: mid, success: false, from: iso(FILL_START + 40 * DAY), to: iso(FILL_START + 47 * DAY) }),
    page('tenant + search q', { tenant_id: mid, search: parseSearch('res-4242') }),
    page('search q, all tenants', { search: parseSearch('timeout u7') }),
    report('report buckets, tenant month', bucketCounts(month, REPORT)),
    report('report top actors, tenant month', topValues('actor_id', month, REPORT)),
    report('report failures, tenant month', failuresByAction(month, REPORT)),
    report('report buckets, all week', bucketCounts(allWeek, REPORT)),
    report('report failures, all week', failuresByAction(allWeek, REPORT)),
    { name: 'verify unchained count', kind: 'verify', text: UNCHAINED_EVENTS_SQL(true), values: [small] },
    { name: 'verify linked present', kind: 'verify', text: LINKED_PRESENT_SQL(true), values: [small] },
    { name: 'verify window (500 seqs)', kind: 'verify', text: SELECT_LINKED_WINDOW_SQL, values: [mid, 1000, 1500, 1000, 1500] },
    { name: 'feed, tenant', kind: 'feed', text: TENANT_FEED_SQL, values: [mid, link.start_seq, 100] },
    { name: 'feed, all tenants', kind: 'feed', text: ALL_FEED_SQL, values: [midKey.k, 'tenant_0', 0, 100] },
    {
      name: 'retention candidates, tenant',
      kind: 'retention',
      text: LINKED_RETENTION_CANDIDATES_SQL,
      values: [iso(FILL_START + 30 * DAY), ['auditq.retention.cut'], small],
    },
    {
      // The producer runs, not audit_logs: no index on the event table serves it (migration 92).
      name: 'completeness islands, tenant',
      kind: 'completeness',
      text: islandsSql('tenant_id = $1'),
      values: [small],
    },
    {
      name: 'completeness accounting',
      kind: 'completeness',
      text: 'SELECT action, received_at, metadata FROM audit_logs WHERE action = ANY ($1::text[])',
      values: [ACCOUNTING_ACTIONS],
    },
    { name: 'event by id, tenant', kind: 'lookup', text: SELECT_BY_ID_AND_TENANT_SQL, values: [anyId.id, anyId.tenant_id] },
    { name: 'event by id, no tenant', kind: 'lookup', text: SELECT_BY_ID_SQL, values: [anyId.id] },
  ]
}
