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
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { decodeFeedCursor, encodeFeedCursor } from '../../feed/cursor.js'
import { startPosition, type FeedEvent, type FeedPosition } from '../../feed/feed-event.js'
import { readFeedPage, waitForFeedPage } from '../../feed/read.js'
import type { AuditEvent } from '../../event/types.js'
import { eventForm, insertChained } from './chained-insert.js'
import { ChainHeadCache } from './head-cache.js'
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

  /** The store's chained insert, on a connection whose transaction the caller holds. */
  const insertOn = (client: pg.Client, events: AuditEvent[]) => insertChained(client as unknown as pg.Pool, events, new ChainHeadCache(), eventForm())

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
    const tenants = ['a', 'b', 'c']
    const writers = 6
    const transactionsPerWriter = 12
    const committed: AuditEvent[] = []
    /** Commit order by transaction id, to show the campaign really produced out-of-order commits. */
    const commitXids: bigint[] = []
    let writing = true

    async function writer(): Promise<void> {
      const client = await connection(schema)
      for (let t = 0; t < transactionsPerWriter; t++) {
        await client.query('BEGIN')
        // Half take their transaction id first and dawdle, so a later one can chain before them.
        const xid = BigInt((await client.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x)
        if (Math.random() < 0.5) await sleep(Math.random() * 30)
        const events = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () =>
          storedEvent({ tenant_id: tenants[Math.floor(Math.random() * tenants.length)]! }),
        )
        await insertOn(client, events)
        await sleep(Math.random() * 40)
        if (Math.random() < 0.1) {
          await client.query('ROLLBACK')
          continue
        }
        await client.query('COMMIT')
        committed.push(...events)
        commitXids.push(xid)
      }
    }

    /**
     * Follows one feed with small pages until the writers are done and it has seen as many events
     * as were committed for it (the all-tenants feed may trail behind other databases' writers on
     * this shared server), then reads once more to catch any extra. A skipped event never arrives,
     * so the test then fails by its deadline.
     */
    async function poller(tenant: string | undefined): Promise<FeedEvent[]> {
      const seen: FeedEvent[] = []
      let after: FeedPosition = startPosition(tenant)
      const expected = () => committed.filter((e) => tenant === undefined || e.tenant_id === tenant).length
      let deadline = Infinity
      for (;;) {
        const done = !writing
        const page = await readFeedPage(store.feed, after, 5)
        seen.push(...page.events)
        after = decodeFeedCursor(page.next, tenant)
        if (page.events.length === 0) {
          if (done) deadline = Math.min(deadline, Date.now() + 20_000)
          if (done && (seen.length >= expected() || Date.now() > deadline)) {
            seen.push(...(await readFeedPage(store.feed, after, 5)).events)
            return seen
          }
          await sleep(3)
        }
      }
    }

    const polling = [poller(undefined), ...tenants.map((tenant) => poller(tenant))]
    await Promise.all(Array.from({ length: writers }, () => writer()))
    writing = false
    const [all, ...perTenant] = await Promise.all(polling)

    const inversions = commitXids.filter((xid, i) => commitXids.slice(0, i).some((earlier) => earlier > xid)).length
    expect(inversions).toBeGreaterThan(0)
    const ids = (events: Array<{ id: string }>) => events.map((e) => e.id).sort()
    expect(ids(all!.map((e) => e.event))).toEqual(ids(committed))
    expect(new Set(all!.map((e) => e.event.id)).size).toBe(all!.length)
    tenants.forEach((tenant, i) => {
      const mine = committed.filter((e) => e.tenant_id === tenant)
      const fromTenantFeed = perTenant[i]!
      const fromAllFeed = all!.filter((e) => e.event.tenant_id === tenant)
      // Seqs are gap-free except where a rolled-back transaction held them: it took none (its lock
      // and head update rolled back too), so each feed shows 1..n exactly.
      for (const feed of [fromTenantFeed, fromAllFeed]) {
        expect(feed.map((e) => e.seq)).toEqual(mine.map((_, k) => k + 1))
        expect(ids(feed.map((e) => e.event))).toEqual(ids(mine))
      }
      expect(fromAllFeed.map((e) => e.event.id)).toEqual(fromTenantFeed.map((e) => e.event.id))
    })
    console.log(`feed no-gap campaign: ${committed.length} events in ${commitXids.length} transactions, ${inversions} committed after a higher transaction id`)
  }, 60_000)
})
