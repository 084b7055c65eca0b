/**
 * The PostgreSQL feed's no-gap campaign: writers run the store's own chained insert inside
 * transactions they hold open for random times (half take their transaction id long before they
 * insert, a tenth roll back), so later seqs and higher transaction ids routinely become visible
 * first, while pollers follow the all-tenants feed and each tenant's feed with small pages. Used
 * against the primary and against a hot standby.
 */
import type pg from 'pg'
import { expect } from 'vitest'
import { decodeFeedCursor } from '../../src/feed/cursor.js'
import { startPosition, type FeedEvent, type FeedPosition, type FeedSource } from '../../src/feed/feed-event.js'
import { readFeedPage } from '../../src/feed/read.js'
import type { AuditEvent } from '../../src/event/types.js'
import { eventForm, insertChained } from '../../src/store/postgres/chained-insert.js'
import { ChainHeadCache } from '../../src/store/postgres/head-cache.js'
import { storedEvent } from './events.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The store's chained insert, on a connection whose transaction the caller holds. */
export const insertOn = (client: pg.Client, events: AuditEvent[]) =>
  insertChained(client as unknown as pg.Pool, events, new ChainHeadCache(), eventForm())

export interface CampaignOptions {
  /** Opens a connection to the primary with the store's schema on its search path. */
  connect: () => Promise<pg.Client>
  feed: FeedSource
  tenants?: string[]
  writers?: number
  transactionsPerWriter?: number
  /** How long a poller keeps reading after the writers are done before it gives up on the count. */
  settleMs?: number
  /** Runs beside the writers (the writers are done when it and they are). */
  during?: () => Promise<void>
}

export interface CampaignResult {
  committed: AuditEvent[]
  /** Transactions that committed after one with a higher transaction id. */
  inversions: number
  transactions: number
  all: FeedEvent[]
  perTenant: FeedEvent[][]
}

export async function runFeedCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const tenants = options.tenants ?? ['a', 'b', 'c']
  const committed: AuditEvent[] = []
  /** Commit order by transaction id, to show the campaign really produced out-of-order commits. */
  const commitXids: bigint[] = []
  let writing = true

  async function writer(): Promise<void> {
    const client = await options.connect()
    try {
      for (let t = 0; t < (options.transactionsPerWriter ?? 12); t++) {
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
    } finally {
      await client.end()
    }
  }

  /**
   * Follows one feed with small pages until the writers are done and it has seen as many events
   * as were committed for it (the all-tenants feed may trail behind other writers on the server,
   * a replica behind its primary), then reads once more to catch any extra. A skipped event never
   * arrives, so the caller's assertions then fail after `settleMs`.
   */
  async function poller(tenant: string | undefined): Promise<FeedEvent[]> {
    const seen: FeedEvent[] = []
    let after: FeedPosition = startPosition(tenant)
    const expected = () => committed.filter((e) => tenant === undefined || e.tenant_id === tenant).length
    let deadline = Infinity
    for (;;) {
      const done = !writing
      const page = await readFeedPage(options.feed, after, 5)
      seen.push(...page.events)
      after = decodeFeedCursor(page.next, tenant)
      if (page.events.length === 0) {
        if (done) deadline = Math.min(deadline, Date.now() + (options.settleMs ?? 20_000))
        if (done && (seen.length >= expected() || Date.now() > deadline)) {
          seen.push(...(await readFeedPage(options.feed, after, 5)).events)
          return seen
        }
        await sleep(3)
      }
    }
  }

  const polling = [poller(undefined), ...tenants.map((tenant) => poller(tenant))]
  await Promise.all([...Array.from({ length: options.writers ?? 6 }, () => writer()), options.during?.()])
  writing = false
  const [all, ...perTenant] = await Promise.all(polling)
  const inversions = commitXids.filter((xid, i) => commitXids.slice(0, i).some((earlier) => earlier > xid)).length
  return { committed, inversions, transactions: commitXids.length, all: all!, perTenant }
}

/**
 * Every committed event exactly once in the all-tenants feed and in its tenant's feed, each tenant
 * in seq order 1..n, and both feeds agreeing on a tenant's order.
 */
export function expectNoGap(result: CampaignResult, tenants = ['a', 'b', 'c']): void {
  const { committed, all, perTenant } = result
  expect(result.inversions).toBeGreaterThan(0)
  const ids = (events: Array<{ id: string }>) => events.map((e) => e.id).sort()
  expect(ids(all.map((e) => e.event))).toEqual(ids(committed))
  expect(new Set(all.map((e) => e.event.id)).size).toBe(all.length)
  tenants.forEach((tenant, i) => {
    const mine = committed.filter((e) => e.tenant_id === tenant)
    const fromTenantFeed = perTenant[i]!
    const fromAllFeed = all.filter((e) => e.event.tenant_id === tenant)
    // Seqs are gap-free except where a rolled-back transaction held them: it took none (its lock
    // and head update rolled back too), so each feed shows 1..n exactly.
    for (const feed of [fromTenantFeed, fromAllFeed]) {
      expect(feed.map((e) => e.seq)).toEqual(mine.map((_, k) => k + 1))
      expect(ids(feed.map((e) => e.event))).toEqual(ids(mine))
    }
    expect(fromAllFeed.map((e) => e.event.id)).toEqual(fromTenantFeed.map((e) => e.event.id))
  })
}
