/**
 * Behaviour every store's feed must show (docs/feed.md): each stored event exactly once, in store
 * order, per tenant in chain seq order; cursors bound to the feed that issued them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decodeFeedCursor } from '../../src/feed/cursor.js'
import { startPosition, type FeedEvent, type FeedSource } from '../../src/feed/feed-event.js'
import { readFeedPage, waitForFeedPage } from '../../src/feed/read.js'
import { GENESIS_HASH, hashBytes, linkRun, packedContentDigests } from '../../src/integrity/canonical.js'
import type { Store } from '../../src/store/store.js'
import { storedEvent } from '../support/events.js'

/**
 * Reads a feed to its current end in pages of `limit`, as a consumer would. With `expect`, keeps
 * polling until that many events arrived (or 20 s passed) before the final read: on PostgreSQL
 * the all-tenants feed trails the server's oldest running writer, and other test files write to
 * the same server meanwhile. A skipped event never arrives, so the caller's assertion still fails.
 */
export async function drainFeed(
  feed: FeedSource,
  tenant: string | undefined,
  limit: number,
  options: { from?: string; expect?: number } = {},
): Promise<{ events: FeedEvent[]; next: string }> {
  const events: FeedEvent[] = []
  let after = options.from === undefined ? startPosition(tenant) : decodeFeedCursor(options.from, tenant)
  const deadline = Date.now() + 20_000
  for (;;) {
    const page = await readFeedPage(feed, after, limit)
    events.push(...page.events)
    const next = decodeFeedCursor(page.next, tenant)
    if (page.events.length === 0 && JSON.stringify(next) === JSON.stringify(after)) {
      if (events.length >= (options.expect ?? 0) || Date.now() > deadline) return { events, next: page.next }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    after = next
  }
}

export function describeFeedContract(name: string, createStore: () => Promise<Store>): void {
  describe(`${name} feed contract`, () => {
    const opened: Store[] = []
    async function fresh(): Promise<Store & { feed: FeedSource }> {
      const store = await createStore()
      opened.push(store)
      if (!store.feed) throw new Error(`${name} store has no feed`)
      return store as Store & { feed: FeedSource }
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })

    it('an empty store yields an empty page whose cursor reads the same place again', async () => {
      const store = await fresh()
      const page = await readFeedPage(store.feed, startPosition('acme'), 10)
      expect(page.events).toEqual([])
      await store.insertBatch([storedEvent({ tenant_id: 'acme' })])
      const after = await readFeedPage(store.feed, decodeFeedCursor(page.next, 'acme'), 10)
      expect(after.events.map((e) => e.seq)).toEqual([1])
    })

    it("gives each tenant its own events once, in seq order, with their chain hashes, across pages", async () => {
      const store = await fresh()
      const written: Record<string, string[]> = { acme: [], globex: [] }
      for (let batch = 0; batch < 6; batch++) {
        const events = Array.from({ length: 1 + (batch % 4) }, (_, i) => storedEvent({ tenant_id: (batch + i) % 3 === 0 ? 'globex' : 'acme' }))
        for (const event of events) written[event.tenant_id]!.push(event.id)
        await store.insertBatch(events)
      }
      for (const tenant of ['acme', 'globex']) {
        const { events } = await drainFeed(store.feed, tenant, 2)
        expect(events.map((e) => e.event.id)).toEqual(written[tenant])
        expect(events.map((e) => e.seq)).toEqual(written[tenant]!.map((_, i) => i + 1))
        expect(events.every((e) => e.event.tenant_id === tenant && /^[0-9a-f]{64}$/.test(e.hash))).toBe(true)
      }
      // The hashes are the chain's: recomputed from the events as verify does, from the genesis hash.
      const { events } = await drainFeed(store.feed, 'acme', 100)
      const links = Buffer.alloc(events.length * 32)
      linkRun(hashBytes(GENESIS_HASH), packedContentDigests(events.map((e) => e.event)), 0, events.length, links)
      expect(events.map((e) => e.hash)).toEqual(events.map((_, i) => links.toString('hex', i * 32, i * 32 + 32)))
    })

    it('gives the all-tenants feed every event once, each tenant in seq order, and resumes from any cursor', async () => {
      const store = await fresh()
      const ids: string[] = []
      for (let batch = 0; batch < 8; batch++) {
        const events = Array.from({ length: 1 + (batch % 3) }, (_, i) => storedEvent({ tenant_id: ['a', 'b', 'c'][(batch * 2 + i) % 3]! }))
        ids.push(...events.map((e) => e.id))
        await store.insertBatch(events)
      }
      const { events, next } = await drainFeed(store.feed, undefined, 3, { expect: ids.length })
      expect(events.map((e) => e.event.id).sort()).toEqual([...ids].sort())
      for (const tenant of ['a', 'b', 'c']) {
        const seqs = events.filter((e) => e.event.tenant_id === tenant).map((e) => e.seq)
        expect(seqs).toEqual(seqs.map((_, i) => i + 1))
      }
      // Resuming from each event's own cursor yields exactly what followed it.
      for (const at of [0, 4, events.length - 1]) {
        const rest = await drainFeed(store.feed, undefined, 2, { from: events[at]!.cursor, expect: events.length - at - 1 })
        expect(rest.events.map((e) => e.event.id)).toEqual(events.slice(at + 1).map((e) => e.event.id))
      }
      const more = storedEvent({ tenant_id: 'b' })
      await store.insertBatch([more])
      const tail = await drainFeed(store.feed, undefined, 5, { from: next, expect: 1 })
      expect(tail.events.map((e) => e.event.id)).toEqual([more.id])
    })

    it('refuses a cursor of another tenant or of the other feed, naming `after`', async () => {
      const store = await fresh()
      await store.insertBatch([storedEvent({ tenant_id: 'acme' }), storedEvent({ tenant_id: 'globex' })])
      const acme = await readFeedPage(store.feed, startPosition('acme'), 10)
      const all = await readFeedPage(store.feed, startPosition(undefined), 10)
      const refused = (fn: () => unknown) => {
        try {
          fn()
        } catch (error) {
          return error as { code: string; details: Array<{ field: string }> }
        }
        throw new Error('accepted')
      }
      for (const [cursor, tenant] of [
        [acme.next, 'globex'],
        [acme.next, undefined],
        [all.next, 'acme'],
        ['not-a-cursor!', 'acme'],
        [Buffer.from('["f1","t","acme",-1]').toString('base64url'), 'acme'],
        ['', undefined],
      ] as const) {
        const error = refused(() => decodeFeedCursor(cursor, tenant))
        expect(error.code).toBe('AUDITQ_BAD_REQUEST')
        expect(error.details[0]!.field).toBe('after')
      }
    })

    it('wakes a waiting reader when this process commits, well before the wait ends', async () => {
      const store = await fresh()
      const started = Date.now()
      const waiting = waitForFeedPage(store.feed, startPosition('acme'), 10, { waitMs: 10_000, pollMs: 5_000 })
      setTimeout(() => void store.insertBatch([storedEvent({ tenant_id: 'acme' })]), 50)
      const page = await waiting
      expect(page.events).toHaveLength(1)
      // The poll interval is 5 s: only the commit signal can answer this soon (generous for a loaded machine).
      expect(Date.now() - started).toBeLessThan(3_000)
    })

    it('ends an empty wait at its deadline with the same cursor', async () => {
      const store = await fresh()
      const page = await waitForFeedPage(store.feed, startPosition(undefined), 10, { waitMs: 150, pollMs: 50 })
      expect(page.events).toEqual([])
      expect(decodeFeedCursor(page.next, undefined)).toEqual(startPosition(undefined))
    })
  })
}
