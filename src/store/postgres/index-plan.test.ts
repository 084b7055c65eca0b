/**
 * Which index answers each documented filter's page, on a real server, in either layout
 * (AUDITQ_TEST_PG_PARTITION=week for the partitioned one, whose partitions' indexes are mapped
 * back to the parent's names). The index set was chosen by EXPLAIN on 1M rows
 * (bench/index-review.ts, docs/decisions.md); this keeps a later change to the set or to the
 * WHERE clause from silently turning a page into a scan. Sequential scans are switched off, as a
 * few thousand rows would otherwise rightly be read whole.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../../test/support/app.js'
import { storedEvent } from '../../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable } from '../../../test/support/services.js'
import { parseSearch } from '../../query/search/syntax.js'
import type { EventFilter } from '../../query/event-filter.js'
import type { PostgresStore } from './postgres-store.js'
import { SELECT_BY_ID_AND_TENANT_SQL } from './by-id.js'
import { buildSelect } from './sql.js'

const hasPostgres = await postgresAvailable()

interface PlanNode {
  'Node Type': string
  'Index Name'?: string
  Plans?: PlanNode[]
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

describe.runIf(hasPostgres)('PostgreSQL index per filter', () => {
  let t: TestStore
  let client: pg.Client
  /** A partition's index name → the parent index it belongs to (identity in the plain layout). */
  let parentOf = new Map<string, string>()
  beforeAll(async () => {
    t = await freshStore('postgres')
    const start = Date.parse('2026-06-01T00:00:00Z')
    let n = 0
    for (let batch = 0; batch < 12; batch++) {
      const events = Array.from({ length: 500 }, () => {
        const i = n++
        // Times out of insertion order, as late and imported events make them: with the heap in
        // time order the planner rightly reads a small table's newest rows by time for any filter.
        const at = new Date(start + ((i * 7919) % 6000) * 300_000).toISOString()
        return storedEvent({
          tenant_id: `t${i % 16}`,
          occurred_at: at,
          received_at: at,
          action: `action.${i % 40}`,
          actor_id: `user-${i % 700}`,
          resource_type: `type${i % 5}`,
          resource_id: `res-${i % 900}`,
          success: i % 20 !== 0,
          error_message: i % 20 === 0 ? 'denied' : null,
          category: i % 50 === 0 ? 'critical' : i % 10 === 0 ? 'warning' : 'info',
        })
      })
      await t.store.insertBatch(events)
    }
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${(t.store as PostgresStore).schemaName}` })
    await client.connect()
    await client.query('ANALYZE audit_logs')
    await client.query('SET enable_seqscan = off')
    const { rows } = await client.query<{ child: string; parent: string }>(
      `SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'I'`,
    )
    parentOf = new Map(rows.map((row) => [row.child, row.parent]))
  }, 120_000)
  afterAll(async () => {
    await client.end()
    await t.dispose()
  })

  async function indexesUsed(text: string, values: unknown[]): Promise<string[]> {
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values)
    const names = nodes(rows[0]!['QUERY PLAN'][0]!.Plan).flatMap((node) => (node['Index Name'] ? [node['Index Name']] : []))
    return [...new Set(names.map((name) => parentOf.get(name) ?? name))]
  }

  const FROM = '2026-06-10T00:00:00.000Z'
  const TO = '2026-06-11T00:00:00.000Z'
  it.each<[string, EventFilter, string]>([
    ['no filter', {}, 'audit_logs_occurred_at_idx'],
    ['time range', { from: FROM, to: TO }, 'audit_logs_occurred_at_idx'],
    ['tenant', { tenant_id: 't3' }, 'audit_logs_tenant_idx'],
    ['actor', { actor_id: 'user-7' }, 'audit_logs_actor_idx'],
    ['resource', { resource_id: 'res-7' }, 'audit_logs_resource_idx'],
    ['action', { action: 'action.7' }, 'audit_logs_action_idx'],
    ['failed', { success: false }, 'audit_logs_failed_idx'],
    ['critical', { category: 'critical' }, 'audit_logs_category_idx'],
    ['word search', { search: parseSearch('denied') }, 'audit_logs_search_idx'],
  ])('answers a page filtered by %s from its index', async (_name, filter, index) => {
    const { text, values } = buildSelect(filter, undefined, 101)
    expect(await indexesUsed(text, values)).toContain(index)
  })

  it('pages on by the keyset in the same index', async () => {
    const { text, values } = buildSelect({ tenant_id: 't3' }, { occurred_at: FROM, id: '01900000-0000-7000-8000-000000000000' }, 101)
    expect(await indexesUsed(text, values)).toContain('audit_logs_tenant_idx')
  })

  it('finds an event by tenant and id with one probe, of the id index or the primary key', async () => {
    const { rows } = await client.query<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM audit_logs LIMIT 1')
    const used = await indexesUsed(SELECT_BY_ID_AND_TENANT_SQL, [rows[0]!.id, rows[0]!.tenant_id])
    expect(used.length).toBeGreaterThan(0)
    for (const name of used) expect(name).toMatch(/^audit_logs_((p\d{8}|default|legacy)_)?(pkey|id_idx)$/)
  })
})
