/**
 * The shared feed over a real PostgreSQL store: streams asking for the same page get one read;
 * a short page (caught up) is never kept, so new events show up; kept pages expire. And the
 * shared serialisation gives exactly the text JSON.stringify gives.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { FeedPage, FeedScope, FeedSource } from './feed-source.js'
import { formatLine, jsonRecord, streamFormatters } from './format.js'
import { SharedFeed } from './shared-feed.js'
import { StoreFeed } from './store-feed.js'

class CountingFeed implements FeedSource {
  reads = 0
  constructor(private readonly inner: StoreFeed) {}
  read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    this.reads++
    return this.inner.read(after, limit, scope)
  }
  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitForNew(maxWaitMs, signal)
  }
}

describe('shared feed', () => {
  let test: TestStore
  afterEach(async () => test?.dispose())
  // One tenant's feed: the all-tenants one also waits for every older transaction on the server
  // to end (other clients' included), which would make page sizes depend on them.
  const all = { tenant_id: 'acme' }

  it('reads a page once for every stream at that position, in flight or just behind', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    test = await freshStore('postgres')
    await test.store.insertBatch(Array.from({ length: 30 }, () => storedEvent({ tenant_id: 'acme' })))
    const counting = new CountingFeed(new StoreFeed(test.store.feed!, test.store.integrity))
    let now = 0
    const feed = new SharedFeed(counting, { pages: 2, keepMs: 1_000, now: () => now })
    // Two streams at the start together: one read in flight, both get the same events.
    const [a, b] = await Promise.all([feed.read(null, 10, all), feed.read(null, 10, all)])
    expect(counting.reads).toBe(1)
    expect(b.events).toBe(a.events)
    // A stream just behind gets the kept full page; another scope or batch size is another page.
    await feed.read(null, 10, all)
    expect(counting.reads).toBe(1)
    await feed.read(null, 10, { tenant_id: 'globex' })
    await feed.read(null, 11, all)
    expect(counting.reads).toBe(3)
    // The two streams walk on together: each page read once.
    const second = await feed.read(a.next, 10, all)
    await feed.read(a.next, 10, all)
    const third = await feed.read(second.next, 10, all)
    await feed.read(second.next, 10, all)
    expect(counting.reads).toBe(5)
    expect([...a.events, ...second.events, ...third.events].map((e) => e.event.id)).toHaveLength(30)
    // Only `pages` pages are kept (the oldest go first), and none longer than keepMs.
    await feed.read(null, 10, all)
    expect(counting.reads).toBe(6)
    now += 1_001
    await feed.read(second.next, 10, all)
    expect(counting.reads).toBe(7)
  })

  it('never keeps a short page: events committed after it are read', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    test = await freshStore('postgres')
    await test.store.insertBatch([storedEvent({ tenant_id: 'acme' })])
    const counting = new CountingFeed(new StoreFeed(test.store.feed!, test.store.integrity))
    const feed = new SharedFeed(counting)
    expect((await feed.read(null, 10, all)).events).toHaveLength(1)
    await test.store.insertBatch([storedEvent({ tenant_id: 'acme' })])
    expect((await feed.read(null, 10, all)).events).toHaveLength(2)
    expect(counting.reads).toBe(2)
  })

  it('formats an event once per formatter, the same text JSON.stringify makes', () => {
    const entry = { event: storedEvent({ tenant_id: 'acme', description: 'naïve "quoted" \u2028 line', metadata: { nested: { a: [1, null, 'x'] } } }), seq: 42, hash: 'ab'.repeat(32), cursor: 'c' }
    const line = formatLine(jsonRecord, entry)
    expect(line).toBe(JSON.stringify(jsonRecord(entry)))
    expect(formatLine(jsonRecord, entry)).toBe(line)
    const ocsf = streamFormatters({ productVersion: '1.0.0' }).ocsf!
    expect(formatLine(ocsf, entry)).toBe(JSON.stringify(ocsf(entry)))
  })
})
