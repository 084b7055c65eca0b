/**
 * On the time-partitioned layout a lookup from a chain position to its event must probe one
 * partition, not every one: the link rows carry each event's occurred_at (migration 81), which run-time
 * pruning uses. Without it, a retention run's cut phase (which reads every event below the cut
 * through the link rows) and verify cost one primary-key probe per partition per event: 32 per
 * event at 1,000,000 events in weekly partitions, which kept a cleanup from finishing.
 * Measured from EXPLAIN ANALYZE: how many partition scans ran, summed over the loops.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { DELETE_LINKED_CHUNK_SQL, LINKED_PRESENT_SQL, SELECT_LINKED_WINDOW_SQL } from './chain-links-sql.js'
import { SELECT_BY_ID_SINCE_SQL, uuidV7Time } from './by-id.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from './feed-sql.js'
import { rangeStart } from './partition-layout.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()
const DAY = 86_400_000
const NOW = Date.now()
const WEEKS = 12

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Actual Loops'?: number
  Plans?: PlanNode[]
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

describe.runIf(hasPostgres)('partitioned lookups from chain positions', () => {
  const schema = uniqueSchema('lkplan')
  let store: PostgresStore
  let client: pg.Client
  beforeAll(async () => {
    store = await createPostgresStore({
      connectionString: POSTGRES_URL,
      schema,
      partitioning: { interval: 'week', ahead: 1, since: rangeStart(NOW - (WEEKS + 1) * 7 * DAY, 'week') },
    })
    await store.migrate()
    // 40 batches of 25 for one tenant, each batch's events spread over the last WEEKS weeks.
    for (let batch = 0; batch < 40; batch++) {
      await store.insertBatch(
        Array.from({ length: 25 }, (_, i) => storedEvent({ tenant_id: 'acme', occurred_at: new Date(NOW - ((batch * 25 + i) % (WEEKS * 7)) * DAY - 3_600_000).toISOString() })),
      )
    }
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
    await client.query('ANALYZE')
  }, 120_000)
  afterAll(async () => {
    await client?.end()
    await store?.close()
    await dropSchemas([schema])
  })

  /**
   * Executes `text` under EXPLAIN ANALYZE (rolled back) and sums the loops of every scan of an
   * audit_logs partition. Hash and merge joins are off: on this small fixture the planner hashes
   * a scan of every partition, while on a real table (a window of 5,000 positions against
   * millions of events) it probes each position's key in a nested loop, the plan measured here.
   */
  async function partitionProbes(text: string, values: unknown[]): Promise<{ probes: number; partitions: number }> {
    await client.query('BEGIN')
    try {
      await client.query("SELECT set_config('auditq.retention', 'on', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)")
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values)
      const scans = nodes(rows[0]!['QUERY PLAN'][0]!.Plan).filter((node) => /^audit_logs_(p\d{8}|default)$/.test(node['Relation Name'] ?? ''))
      return { probes: scans.reduce((sum, node) => sum + (node['Actual Loops'] ?? 0), 0), partitions: scans.length }
    } finally {
      await client.query('ROLLBACK')
    }
  }

  it('spreads the fixture over many partitions', async () => {
    const { rows } = await client.query<{ n: string }>('SELECT count(DISTINCT tableoid) AS n FROM audit_logs')
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(WEEKS)
  })

  it("reads verify's and the cut's window with one partition probe per position", async () => {
    // Link rows starting at seqs 1..500: 20 rows, 500 positions.
    const { probes, partitions } = await partitionProbes(SELECT_LINKED_WINDOW_SQL, ['acme', 1, 500, 1, 500])
    expect(partitions).toBeGreaterThanOrEqual(WEEKS)
    expect(probes).toBeLessThanOrEqual(500)
  })

  it('counts linked events with one partition probe per position', async () => {
    const { probes } = await partitionProbes(LINKED_PRESENT_SQL(true), ['acme'])
    expect(probes).toBeLessThanOrEqual(1_000)
  })

  it('deletes a chunk along the chain with one partition probe per position it looks at', async () => {
    // Up to 200 events after seq 0 and up to the cut at 400, older than tomorrow (so all of them).
    const { probes } = await partitionProbes(DELETE_LINKED_CHUNK_SQL, ['acme', 0, 200, 400, new Date(NOW + DAY).toISOString(), [], '[]'])
    // The victims' lookups (the link rows spanning about 200 seqs) and the delete's own, one each.
    expect(probes).toBeLessThanOrEqual(2 * 250)
  })

  it("reads a tenant's feed and the all-tenants feed with one partition probe per position", async () => {
    // Plus one look per partition for rows chained in the rows before link rows (there are none here).
    for (const [text, values] of [[TENANT_FEED_SQL, ['acme', 100, 300]], [ALL_FEED_SQL, ['0', '', 0, 300]]] as const) {
      const { probes, partitions } = await partitionProbes(text, [...values])
      expect(probes).toBeLessThanOrEqual(300 + partitions)
    }
  })
  it("looks an id up in the partitions from a day before its UUIDv7 time onward, and finds a backfilled event in the others", async () => {
    const recent = storedEvent({ tenant_id: 'acme', occurred_at: new Date(NOW - 3_600_000).toISOString() })
    const backfilled = storedEvent({ tenant_id: 'acme', occurred_at: new Date(NOW - 60 * DAY).toISOString() })
    await store.insertBatch([recent, backfilled])
    const madeAt = uuidV7Time(recent.id)
    expect(madeAt).not.toBeNull()
    expect(Math.abs(madeAt! - Date.now())).toBeLessThan(60_000)
    const { partitions } = await partitionProbes(SELECT_BY_ID_SINCE_SQL, [recent.id, new Date(madeAt! - 25 * 3_600_000).toISOString()])
    // This week's and last week's at most, the one created ahead and the default: not all 12+.
    expect(partitions).toBeGreaterThanOrEqual(1)
    expect(partitions).toBeLessThanOrEqual(4)
    expect(await store.getById(recent.id)).toEqual(recent)
    expect(await store.getById(recent.id, { tenant_id: 'acme' })).toEqual(recent)
    expect(await store.getById(recent.id, { tenant_id: 'globex' })).toBeNull()
    // Logged 60 days after it occurred: not in the first read's partitions, found by the second.
    expect(await store.getById(backfilled.id)).toEqual(backfilled)
    expect(await store.getById(backfilled.id, { tenant_id: 'acme' })).toEqual(backfilled)
  })
})
