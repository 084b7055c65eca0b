/**
 * Verify's cost must not depend on table statistics. On a fresh table (never analyzed) with
 * autovacuum off, as some servers run, the planner knows nothing about `seq IS NULL`, which is
 * every event since migration 7; an unchained-events query that left the join to the planner
 * went quadratic there (20,000 events: ~29 s before ANALYZE, 1.4 s after).
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyChains } from '../../integrity/verify.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { LINKED_PRESENT_SQL, UNCHAINED_EVENTS_SQL } from './chain-links-sql.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()

describe.runIf(hasPostgres)('verify on a table without statistics', () => {
  const schema = uniqueSchema('vplan')
  let store: PostgresStore
  let client: pg.Client
  beforeAll(async () => {
    store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
    await client.query('ALTER TABLE audit_logs SET (autovacuum_enabled = false)')
    await client.query('ALTER TABLE audit_chain_links SET (autovacuum_enabled = false)')
    // Batches of 100, as a busy service's group commit writes them: 200 link rows for the tenant.
    for (let i = 0; i < 20_000; i += 100) await store.insertBatch(Array.from({ length: 100 }, () => storedEvent({ tenant_id: 'acme' })))
    const { rows } = await client.query("SELECT coalesce(last_analyze, last_autoanalyze) AS analyzed FROM pg_stat_user_tables WHERE relname = 'audit_logs' AND schemaname = $1", [schema])
    expect(rows[0].analyzed).toBeNull()
  }, 120_000)
  afterAll(async () => {
    await client?.end()
    await store?.close()
    await dropSchemas([schema])
  })

  it('verifies 20,000 events in far less than the quadratic time', async () => {
    const started = Date.now()
    const report = await verifyChains('postgres', store.integrity)
    const elapsed = Date.now() - started
    expect(report).toMatchObject({ intact: true, events: 20_000 })
    // ~1–4 s on the shared 2-core machine; the quadratic plan took 29–50 s.
    expect(elapsed).toBeLessThan(15_000)
  }, 120_000)

  it('plans the unchained count without a join for the planner to get wrong', async () => {
    for (const tenant of [false, true]) {
      const values = tenant ? ['acme'] : []
      const plans = [UNCHAINED_EVENTS_SQL(tenant), LINKED_PRESENT_SQL(tenant)].map(async (sql) =>
        (await client.query(`EXPLAIN ${sql}`, values)).rows.map((row) => row['QUERY PLAN'] as string).join('\n'),
      )
      for (const plan of await Promise.all(plans)) expect(plan).not.toMatch(/Anti Join|Semi Join|Hash Join|Merge Join/)
      // The lookup per linked id is a subplan on the primary key, probed once per position.
      expect(await plans[1]).toMatch(/SubPlan[\s\S]*audit_logs_pkey/)
    }
  })
})
