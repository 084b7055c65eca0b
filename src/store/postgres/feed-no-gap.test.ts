/**
 * The PostgreSQL feed never skips an event whose transaction commits after a later one, on real
 * PostgreSQL: writers run the store's own chained insert inside transactions they hold open for
 * random times (some take their transaction id long before they insert), so later seqs and higher
 * transaction ids routinely become visible first, while pollers follow the feeds with small pages.
 */
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { drainFeed } from '../../../test/contracts/feed.contract.js'
import { storedEvent } from '../../../test/support/events.js'
import { expectNoGap, insertOn, runFeedCampaign } from '../../../test/support/feed-campaign.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { decodeFeedCursor, encodeFeedCursor } from '../../feed/cursor.js'
import { startPosition } from '../../feed/feed-event.js'
import { readFeedPage, waitForFeedPage } from '../../feed/read.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!hasPostgres)('postgres feed under concurrent writers with delayed commits', () => {
  const schemas: string[] = []
  const stores: PostgresStore[] = []
  const clients: pg.Client[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)))
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })
  afterAll(() => dropSchemas(schemas))

  async function setUp(): Promise<{ store: PostgresStore; schema: string }> {
    const schema = uniqueSchema('feedgap')
    schemas.push(schema)
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    stores.push(store)
    await store.migrate()
    return { store, schema }
  }

  async function connection(schema: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema} -c TimeZone=UTC` })
    await client.connect()
    clients.push(client)
    return client
  }

  it('holds back the all-tenants feed behind an open older transaction, and then delivers both in order', async () => {
    const { store, schema } = await setUp()
    const [older, newer] = [await connection(schema), await connection(schema)]
    const a = storedEvent({ tenant_id: 'a' })
    const b = storedEvent({ tenant_id: 'b' })
    await older.query('BEGIN')
    await insertOn(older, [a])
    await newer.query('BEGIN')
    await insertOn(newer, [b])
    await newer.query('COMMIT')
    // b is committed and visible; a is not yet. A tenant's feed shows b at once…
    expect((await readFeedPage(store.feed, startPosition('b'), 10)).events.map((e) => e.event.id)).toEqual([b.id])
    // …the all-tenants feed does not, because a (older, still open) may yet commit before it in key order.
    const held = await readFeedPage(store.feed, startPosition(undefined), 10)
    expect(held.events).toEqual([])
    await older.query('COMMIT')
    // The horizon is the server's oldest running writer, so other databases' transactions on this
    // shared server may hold it a moment longer: wait for it, as a follower would.
    const page = await waitForFeedPage(store.feed, decodeFeedCursor(held.next, undefined), 10, { waitMs: 20_000, pollMs: 20 })
    expect(page.events.map((e) => e.event.id)).toEqual([a.id, b.id])
  })

  it("keeps one tenant's seqs in order when the transaction with the lower id chains later", async () => {
    const { store, schema } = await setUp()
    const [early, late] = [await connection(schema), await connection(schema)]
    await early.query('BEGIN')
    const earlyXid = BigInt((await early.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x)
    await late.query('BEGIN')
    const lateXid = BigInt((await late.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x)
    expect(earlyXid < lateXid).toBe(true)
    const first = storedEvent({ tenant_id: 'a' })
    const second = storedEvent({ tenant_id: 'a' })
    await insertOn(late, [first]) // seq 1, under the higher transaction id
    await late.query('COMMIT')
    await insertOn(early, [second]) // seq 2, under the lower one
    await early.query('COMMIT')
    const { events } = await drainFeed(store.feed, undefined, 1, { expect: 2 })
    expect(events.map((e) => [e.event.id, e.seq])).toEqual([[first.id, 1], [second.id, 2]])
  })

  it('moves the cursor past events retention deleted, so a consumer never stalls on them', async () => {
    const { store, schema } = await setUp()
    const gone = [storedEvent({ tenant_id: 'a' }), storedEvent({ tenant_id: 'a' })]
    const kept = storedEvent({ tenant_id: 'a' })
    await store.insertBatch(gone)
    await store.insertBatch([kept])
    const admin = await connection(schema)
    await admin.query('BEGIN')
    await admin.query("SET LOCAL auditq.retention = 'on'")
    await admin.query('DELETE FROM audit_logs WHERE id = ANY($1::uuid[])', [gone.map((e) => e.id)])
    await admin.query('COMMIT')
    for (const tenant of ['a', undefined]) {
      // Limit 1: the first position read is a deleted event, so the page is empty but moves on.
      let first = await readFeedPage(store.feed, startPosition(tenant), 1)
      for (let i = 0; i < 200 && first.next === encodeFeedCursor(startPosition(tenant)); i++) {
        await sleep(10)
        first = await readFeedPage(store.feed, startPosition(tenant), 1)
      }
      expect(first.events).toEqual([])
      const { events } = await drainFeed(store.feed, tenant, 1, { from: first.next, expect: 1 })
      expect(events.map((e) => [e.event.id, e.seq])).toEqual([[kept.id, 3]])
    }
  })

  it('never skips or repeats an event while writers commit out of order', async () => {
    const { store, schema } = await setUp()
    const result = await runFeedCampaign({ connect: () => connection(schema), feed: store.feed })
    expectNoGap(result)
    console.log(`feed no-gap campaign: ${result.committed.length} events in ${result.transactions} transactions, ${result.inversions} committed after a higher transaction id`)
  }, 60_000)
})
