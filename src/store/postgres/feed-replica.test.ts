/**
 * The feed read from a real hot standby (pg_basebackup -R of a private PostgreSQL): it is answered
 * there while the replica is close behind, and stays gap-free when readers move between the
 * replica and the primary, in both directions, while writers commit out of order.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { expectNoGap, runFeedCampaign } from '../../../test/support/feed-campaign.js'
import { type PrivatePostgres, privatePostgresAvailable, type Replica, startPrivatePostgres, startReplicaOf } from '../../../test/support/private-postgres.js'
import { decodeFeedCursor } from '../../feed/cursor.js'
import { startPosition } from '../../feed/feed-event.js'
import { readFeedPage, waitForFeedPage } from '../../feed/read.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const available = privatePostgresAvailable()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

describe.skipIf(!available)('PostgreSQL feed on a read replica', () => {
  let primary: PrivatePostgres
  let replica: Replica
  const stores: PostgresStore[] = []

  beforeAll(async () => {
    primary = await startPrivatePostgres()
    replica = await startReplicaOf(primary)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    await replica?.destroy()
    await primary?.destroy()
  })

  async function open(schema: string, maxLagMs: number): Promise<PostgresStore> {
    const store = await createPostgresStore({
      connectionString: primary.url,
      schema,
      readReplica: { connectionString: replica.url, maxLagMs, probeEveryMs: 100 },
    })
    stores.push(store)
    await store.migrate()
    return store
  }

  it('is read from the replica while it is close behind', async () => {
    // A bound well above what a loaded machine takes to pause replay, insert and read.
    const store = await open('feed_replica_route', 15_000)
    const first = storedEvent({ tenant_id: 'acme' })
    await store.insertBatch([first])
    await until(() => store.readReplicaStatus()?.inUse === true, 'the replica in use')
    // The replica itself holds the migration and the first event (a feed read it could not answer
    // would have come from the primary).
    await replica.catchUp()
    const page = await readFeedPage(store.feed, startPosition(undefined), 10)
    expect(page.events.map((e) => e.event.id)).toEqual([first.id])

    // Replay held back: the primary has the late event, the replica (still within the bound) does not.
    await replica.pauseReplay()
    const late = storedEvent({ tenant_id: 'acme' })
    await store.insertBatch([late])
    const after = decodeFeedCursor(page.next, undefined)
    let fromReplica: Awaited<ReturnType<typeof readFeedPage>> | undefined
    // As in the replica's own test: take a read from a replica judged usable before and after it.
    for (let attempt = 0; attempt < 5 && !fromReplica; attempt++) {
      await until(() => store.readReplicaStatus()?.inUse === true, 'the replica in use within the bound')
      const fallbacksBefore = store.readReplicaStatus()!.fallbacks
      const answer = await readFeedPage(store.feed, after, 10)
      const status = store.readReplicaStatus()!
      if (status.inUse && status.fallbacks === fallbacksBefore) fromReplica = answer
    }
    expect(fromReplica, JSON.stringify(store.readReplicaStatus())).toBeDefined()
    expect(fromReplica!.events).toEqual([])
    expect(fromReplica!.next).toBe(page.next)
    const onPrimary = new pg.Client({ connectionString: primary.url })
    await onPrimary.connect()
    try {
      const linked = await onPrimary.query("SELECT count(*)::int AS n FROM feed_replica_route.audit_logs WHERE id = $1", [late.id])
      expect(linked.rows[0].n).toBe(1)
    } finally {
      await onPrimary.end()
    }

    // Replay resumed: the late event follows, once, in order.
    await replica.resumeReplay()
    const resumed = await waitForFeedPage(store.feed, after, 10, { waitMs: 30_000, pollMs: 20 })
    expect(resumed.events.map((e) => e.event.id)).toEqual([late.id])
  }, 120_000)

  it('never skips or repeats an event while readers move between the replica and the primary', async () => {
    // A short bound, so that holding replay back sends the readers to the primary within a second.
    const store = await open('feed_replica_campaign', 1_000)
    await until(() => store.readReplicaStatus()?.inUse === true, 'the replica in use')
    const seen: string[] = []
    const result = await runFeedCampaign({
      connect: async () => {
        const client = new pg.Client({ connectionString: primary.url, options: '-c search_path=feed_replica_campaign -c TimeZone=UTC' })
        await client.connect()
        return client
      },
      feed: store.feed,
      transactionsPerWriter: 50,
      settleMs: 30_000,
      // Replica → primary (replay held back past the bound) while pollers read ahead of the
      // replica on the primary, then primary → replica (resumed) while the replica is still behind.
      during: async () => {
        await until(() => store.readReplicaStatus()?.inUse === true, 'the replica in use')
        seen.push('replica')
        await replica.pauseReplay()
        await until(() => store.readReplicaStatus()?.reason === 'too_far_behind', 'the replica judged too far behind')
        seen.push('primary')
        await sleep(500)
        await replica.resumeReplay()
        await until(() => store.readReplicaStatus()?.inUse === true, 'the replica back in use')
        seen.push('replica')
      },
    })
    expect(seen).toEqual(['replica', 'primary', 'replica'])
    expect(store.readReplicaStatus()!.fallbacks).toBeGreaterThan(0)
    expectNoGap(result)
  }, 120_000)
})
