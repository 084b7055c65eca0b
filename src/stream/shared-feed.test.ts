/**
 * The shared feed over a real PostgreSQL store: streams passing the same stretch of the feed, at
 * their own positions and with their own batch sizes, read it from the store once between them;
 * what lies past what was read is always read from the store (new events show up); kept events
 * expire by age and by count; positions whose events retention deleted still move a stream on.
 * And the shared serialisation gives exactly the text JSON.stringify gives.
 */
import pg from 'pg'
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
  const acme = { tenant_id: 'acme' }

  async function open(count: number, options: ConstructorParameters<typeof SharedFeed>[1] = {}) {
    test = await freshStore('postgres')
    const events = Array.from({ length: count }, () => storedEvent({ tenant_id: 'acme' }))
    if (count > 0) await test.store.insertBatch(events)
    const counting = new CountingFeed(new StoreFeed(test.store.feed!, test.store.integrity))
    return { counting, feed: new SharedFeed(counting, options), ids: events.map((event) => event.id) }
  }

  /** Reads to the end of what is stored, `limit` at a time, from `after`. */
  async function walk(feed: FeedSource, limit: number, after: string | null = null): Promise<string[]> {
    const ids: string[] = []
    for (;;) {
      const page = await feed.read(after, limit, acme)
      if (page.events.length === 0) return ids
      ids.push(...page.events.map((entry) => entry.event.id))
      after = page.next
    }
  }

  it('reads a stretch once for streams at their own positions with their own batch sizes', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    const { counting, feed, ids } = await open(30, { readAtLeast: 1 })
    // Two streams at the start together: one read in flight, both get the same events.
    const [a, b] = await Promise.all([feed.read(null, 10, acme), feed.read(null, 10, acme)])
    expect(counting.reads).toBe(1)
    expect(b.events).toEqual(a.events)
    // A stream with a smaller batch, just behind: served from what was read.
    const c1 = await feed.read(null, 7, acme)
    expect(counting.reads).toBe(1)
    expect(c1.events.map((entry) => entry.event.id)).toEqual(ids.slice(0, 7))
    // It passes the end of what was read: one read after that end, then it is served again.
    const c2 = await feed.read(c1.next, 7, acme)
    expect(c2.events.map((entry) => entry.event.id)).toEqual(ids.slice(7, 14))
    expect(counting.reads).toBe(2)
    const a2 = await feed.read(a.next, 10, acme)
    expect(a2.events.map((entry) => entry.event.id)).toEqual(ids.slice(10, 20))
    expect(counting.reads).toBe(3)
    // Each stream walks the whole feed, in order, exactly once; the store was read once per stretch.
    expect([...a.events, ...a2.events].map((entry) => entry.event.id).concat(await walk(feed, 10, a2.next))).toEqual(ids)
    const readsAfterA = counting.reads
    expect([...c1.events, ...c2.events].map((entry) => entry.event.id).concat(await walk(feed, 7, c2.next))).toEqual(ids)
    // The second stream only asked the store past the end of what was read: once for its last,
    // short page and once for its empty one.
    expect(counting.reads).toBe(readsAfterA + 2)
  })

  it('shares one read among streams that reach the end at the same time', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    const { counting, feed, ids } = await open(20, { readAtLeast: 1 })
    const first = await feed.read(null, 5, acme)
    const [x, y] = await Promise.all([feed.read(first.next, 5, acme), feed.read(first.next, 8, acme)])
    expect(counting.reads).toBe(2)
    expect(x.events.map((entry) => entry.event.id)).toEqual(ids.slice(5, 10))
    // The read was the first stream's size: the second gets what it brought, not a wait for more.
    expect(y.events.map((entry) => entry.event.id)).toEqual(ids.slice(5, 10))
  })

  it('reads at least a default page past the end, so a stream with a small batch does not make the others read in small pages', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    const { counting, feed, ids } = await open(20, { readAtLeast: 12 })
    const small = await feed.read(null, 2, acme)
    expect(small.events.map((entry) => entry.event.id)).toEqual(ids.slice(0, 2))
    expect(counting.reads).toBe(1)
    const large = await feed.read(small.next, 10, acme)
    expect(large.events.map((entry) => entry.event.id)).toEqual(ids.slice(2, 12))
    expect(counting.reads).toBe(1)
  })

  it('reads past the end of what was read: events committed later show up', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    const { counting, feed } = await open(1)
    const first = await feed.read(null, 10, acme)
    expect(first.events).toHaveLength(1)
    const later = storedEvent({ tenant_id: 'acme' })
    await test.store.insertBatch([later])
    // From the start again, and from where the first read ended.
    expect((await feed.read(null, 10, acme)).events).toHaveLength(2)
    expect((await feed.read(first.next, 10, acme)).events.map((entry) => entry.event.id)).toEqual([later.id])
    expect(counting.reads).toBe(3)
  })

  it('hands out kept events only for keepMs after they were read, and keeps at most `events` of them', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    let now = 0
    const { counting, feed, ids } = await open(30, { keepMs: 1_000, events: 15, readAtLeast: 1, now: () => now })
    const first = await feed.read(null, 10, acme)
    await feed.read(first.next, 10, acme)
    expect(counting.reads).toBe(2)
    // 20 read, 15 kept: the first five went, so the start is read again; the sixth is still kept.
    await feed.read(null, 10, acme)
    expect(counting.reads).toBe(3)
    const fromFifth = await feed.read(first.events[4]!.cursor, 5, acme)
    expect(fromFifth.events.map((entry) => entry.event.id)).toEqual(ids.slice(5, 10))
    expect(counting.reads).toBe(3)
    // Past keepMs nothing kept is handed out: every read goes to the store.
    now += 1_001
    expect((await feed.read(first.next, 10, acme)).events.map((entry) => entry.event.id)).toEqual(ids.slice(10, 20))
    expect(counting.reads).toBe(4)
  })

  it('moves a stream past positions whose events retention deleted, from the store and from what was kept', async (ctx) => {
    if (!(await postgresAvailable())) return ctx.skip()
    const { counting, feed, ids } = await open(6, { readAtLeast: 1 })
    const admin = new pg.Client({ connectionString: test.location.databaseUrl, options: `-c search_path=${test.location.databaseSchema}` })
    await admin.connect()
    try {
      await admin.query('BEGIN')
      await admin.query("SET LOCAL auditq.retention = 'on'")
      await admin.query('DELETE FROM audit_logs WHERE id = ANY($1::uuid[])', [ids.slice(2, 4)])
      await admin.query('COMMIT')
    } finally {
      await admin.end()
    }
    // Limit 4 from the start: two events, then two deleted positions; the page moves past all four.
    const first = await feed.read(null, 4, acme)
    expect(first.events.map((entry) => entry.event.id)).toEqual(ids.slice(0, 2))
    const rest = await feed.read(first.next, 4, acme)
    expect(rest.events.map((entry) => entry.event.id)).toEqual(ids.slice(4))
    expect(counting.reads).toBe(2)
    // Another stream after the second event, one at a time: served from what was kept, past the
    // deleted positions, with no read.
    const next = await feed.read(first.events[1]!.cursor, 1, acme)
    expect(next.events.map((entry) => entry.event.id)).toEqual([ids[4]])
    expect(counting.reads).toBe(2)
    // A stream whose page holds only deleted positions still moves on.
    const third = first.events[1]!.cursor
    const stretch = new SharedFeed(counting, { readAtLeast: 1 })
    const onlyDeleted = await stretch.read(third, 2, acme)
    expect(onlyDeleted.events).toEqual([])
    expect(onlyDeleted.next).not.toBe(third)
    expect((await stretch.read(onlyDeleted.next, 2, acme)).events.map((entry) => entry.event.id)).toEqual(ids.slice(4))
    expect((await feed.read(onlyDeleted.next, 2, acme)).events.map((entry) => entry.event.id)).toEqual(ids.slice(4))
    expect(counting.reads).toBe(4)
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
