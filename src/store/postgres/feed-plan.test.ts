/**
 * A feed page is an index range scan on a real server, never a scan of the table: the
 * all-tenants feed walks audit_chain_links_feed_idx (migration 35), a tenant's feed the link rows'
 * primary key and the chain index, and each position's event is one primary-key probe.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../../test/support/app.js'
import { storedEvent } from '../../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable } from '../../../test/support/services.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from './feed-sql.js'
import type { PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

describe.runIf(hasPostgres)('PostgreSQL feed plans', () => {
  let t: TestStore
  let client: pg.Client
  beforeAll(async () => {
    t = await freshStore('postgres')
    // 400 batches over 8 tenants: 400+ link rows and 4,000 events, enough for the planner to weigh a scan.
    for (let batch = 0; batch < 400; batch += 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, k) => t.store.insertBatch(Array.from({ length: 10 }, (_, i) => storedEvent({ tenant_id: `t${(batch + k + i) % 8}` })))),
      )
    }
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${(t.store as PostgresStore).schemaName}` })
    await client.connect()
    await client.query('ANALYZE audit_logs')
    await client.query('ANALYZE audit_chain_links')
  }, 120_000)
  afterAll(async () => {
    await client.end()
    await t.dispose()
  })

  async function plan(text: string, values: unknown[]): Promise<PlanNode[]> {
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values)
    return nodes(rows[0]!['QUERY PLAN'][0]!.Plan)
  }

  it('reads an all-tenants page by the feed index, mid-stream as from the start', async () => {
    const { rows } = await client.query<{ k: string }>('SELECT feed_key::text AS k FROM audit_chain_links ORDER BY feed_key OFFSET 200 LIMIT 1')
    for (const values of [['0', '', 0, 100], [rows[0]!.k, 't3', 5, 100]]) {
      const found = await plan(ALL_FEED_SQL, values)
      expect(found.filter((node) => node['Node Type'] === 'Seq Scan').map((node) => node['Relation Name'])).toEqual([])
      expect(found.some((node) => node['Index Name'] === 'audit_chain_links_feed_idx')).toBe(true)
    }
  })

  it("reads a tenant's page by the link rows' primary key and the chain index", async () => {
    const found = await plan(TENANT_FEED_SQL, ['t3', 120, 100])
    expect(found.filter((node) => node['Node Type'] === 'Seq Scan').map((node) => node['Relation Name'])).toEqual([])
    expect(found.some((node) => node['Index Name'] === 'audit_chain_links_pkey')).toBe(true)
  })
})
