import { afterEach, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { StoreFeed } from './store-feed.js'

describe('stream feed over the embedded store', () => {
  let test: TestStore
  afterEach(async () => test?.dispose())

  it('reads pages in order, resumes from a cursor, and counts the backlog for the lag metric', async () => {
    test = await freshStore('embedded')
    await test.store.insertBatch(Array.from({ length: 30 }, (_, i) => storedEvent({ tenant_id: i % 2 ? 'acme' : 'globex' })))
    const feed = new StoreFeed(test.store.feed!, test.store.integrity)
    const acme = { tenant_id: 'acme' }
    const first = await feed.read(null, 10, acme)
    expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(await feed.backlog(first.next, acme, { seqs: new Map(), sinceStart: false })).toBe(5)
    const rest = await feed.read(first.next, 10, acme)
    expect(rest.events.map((e) => e.seq)).toEqual([11, 12, 13, 14, 15])
    const all = { tenant_id: null }
    expect(await feed.backlog(null, all, { seqs: new Map(), sinceStart: true })).toBe(30)
    const page = await feed.read(null, 12, all)
    const seen = new Map<string, number>()
    for (const entry of page.events) seen.set(entry.event.tenant_id, entry.seq)
    // From the start, a tenant not read yet counts whole; after a takeover it is not known yet.
    expect(await feed.backlog(page.next, all, { seqs: seen, sinceStart: true })).toBe(18)
    expect(await feed.backlog(page.next, all, { seqs: seen, sinceStart: false })).toBe(3)
    expect(() => feed.checkCursor(first.next!, all)).toThrow(/after/)
  })
})
