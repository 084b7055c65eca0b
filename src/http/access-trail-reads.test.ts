/**
 * The reads added to the access trail: the feed (pages, long-polls, the SSE stream), Merkle
 * proofs, proof bundles and the completeness check. And the property that lets the feed be
 * recorded at all: an all-tenants follower, which reads back the records of its own reads, writes
 * a bounded number of them (at most two per window), however many pages it asks for.
 * Real service, real keys, both stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { StoreKind } from '../../test/support/app.js'

const hasPostgres = await postgresAvailable()

interface FeedBody {
  events: Array<{ event: { action: string; tenant_id: string } }>
  next: string
}

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`feed, proof and completeness reads in the trail (${kind})`, () => {
    let service: KeyedApp | undefined
    afterEach(async () => {
      await service?.close()
      service = undefined
    })

    const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } })
    async function trail(action?: string): Promise<AuditEvent[]> {
      const { events } = await service!.audit.store.query({ tenant_id: 'auditq', ...(action ? { action } : {}) }, { limit: 1_000 })
      return events.reverse()
    }

    it('records feed pages, the SSE stream, proofs, proof bundles and completeness checks, with who, what and which tenant', async () => {
      service = await startKeyedApp(kind, { logLevel: 'silent' })
      const reader = await service.createKey('acme', ['read'], 'siem pull')
      const admin = await service.createKey('ops', ['read', 'admin'], 'ops console')
      const writer = await service.createKey('acme', ['ingest'])
      const posted = await fetch(`${service.baseUrl}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'doc.read', actor_id: 'u1' }),
      })
      expect(posted.status).toBe(202)
      const [stored] = (await service.audit.store.query({ tenant_id: 'acme' }, { limit: 1 })).events

      // Two pages of one follower: one access (`after` moves, what was asked does not).
      const first = (await (await fetch(`${service.baseUrl}/v1/feed?limit=1`, auth(reader.key))).json()) as FeedBody
      expect(first.events.map((item) => item.event.action)).toEqual(['doc.read'])
      expect((await fetch(`${service.baseUrl}/v1/feed?limit=1&after=${first.next}&wait=0`, auth(reader.key))).status).toBe(200)
      // An admin key reads across tenants: recorded as `*`, not as the tenant the key is bound to.
      expect((await fetch(`${service.baseUrl}/v1/feed?format=ocsf`, auth(admin.key))).status).toBe(200)
      expect((await fetch(`${service.baseUrl}/v1/feed?tenant_id=acme`, auth(admin.key))).status).toBe(200)

      const stream = new AbortController()
      // Named tenant: another filter, so not folded into the pages' window above.
      const sse = await fetch(`${service.baseUrl}/v1/feed/stream?tenant_id=acme`, { ...auth(reader.key), signal: stream.signal })
      expect(sse.status).toBe(200)
      const reading = sse.body!.getReader()
      let text = ''
      while (!text.includes('doc.read')) text += new TextDecoder().decode((await reading.read()).value)
      stream.abort()
      await reading.cancel().catch(() => undefined)

      // Answered or not (no checkpoint signs the event yet), the request for a proof is an access.
      const proof = await fetch(`${service.baseUrl}/v1/events/${stored!.id}/proof`, auth(reader.key))
      expect([200, 409]).toContain(proof.status)
      const bundle = await fetch(`${service.baseUrl}/v1/events/export?proof=true`, auth(reader.key))
      expect(bundle.status).toBe(200)
      await bundle.arrayBuffer()
      const completeness = await fetch(`${service.baseUrl}/v1/completeness?producer_id=app-1`, auth(reader.key))
      expect(completeness.status).toBe(200)

      const records = (await trail()).map((event) => [event.action, event.actor_id, event.resource_id, event.metadata['what']])
      expect(records).toEqual([
        ['auditq.feed.read', reader.id, 'acme', {}],
        ['auditq.feed.read', admin.id, '*', { format: 'ocsf' }],
        ['auditq.feed.read', admin.id, 'acme', { tenant_id: 'acme' }],
        ['auditq.feed.read', reader.id, 'acme', { tenant_id: 'acme' }],
        ['auditq.integrity.proof', reader.id, 'acme', { id: stored!.id }],
        ['auditq.export', reader.id, 'acme', { proof: 'true' }],
        ['auditq.completeness', reader.id, 'acme', { producer_id: 'app-1' }],
      ])
    })

    /**
     * Follows the feed (`query`) with long-polls for `windows` aggregation windows with nothing
     * else happening, then closes the server (which writes the aggregate still open) and returns
     * what the follower read and what the trail holds about it.
     */
    async function follow(key: string, query: string, windowMs: number, windows: number) {
      let after = ''
      let pages = 0
      let ownRecordsSeen = 0
      const started = Date.now()
      while (Date.now() - started < windows * windowMs) {
        const response = await fetch(`${service!.baseUrl}/v1/feed?wait=1${query}${after ? `&after=${after}` : ''}`, auth(key))
        expect(response.status).toBe(200)
        const body = (await response.json()) as FeedBody
        ownRecordsSeen += body.events.filter((item) => item.event.action === 'auditq.feed.read').length
        after = body.next
        pages += 1
      }
      const elapsedWindows = Math.ceil((Date.now() - started) / windowMs)
      await service!.app.close()
      const records = await trail('auditq.feed.read')
      // Nothing hidden: every page is counted once, as a record of its own or in an aggregate's count.
      const accounted = records.reduce((sum, event) => sum + ((event.metadata['aggregated'] as { count: number } | undefined)?.count ?? 1), 0)
      console.log(`feed follower${query} (${kind}): ${pages} pages in ${elapsedWindows} windows, ${records.length} records, ${ownRecordsSeen} read back`)
      return { pages, ownRecordsSeen, windows: elapsedWindows, records, accounted }
    }

    it("an idle all-tenants follower is not shown its own records, and writes at most two per window", async () => {
      const windowMs = 1_000
      service = await startKeyedApp(kind, { logLevel: 'silent', access: { aggregateWindowMs: windowMs }, feed: { pollMs: 50 } })
      const follower = await service.createKey('ops', ['read', 'admin'], 'all-tenants follower')
      const seen = await follow(follower.key, '', windowMs, 3.5)
      expect(seen.ownRecordsSeen).toBe(0)
      expect(seen.records.length).toBeGreaterThan(0)
      expect(seen.records.length).toBeLessThanOrEqual(2 * seen.windows + 1)
      expect(seen.accounted).toBe(seen.pages)
    }, 60_000)

    it('a follower of the trail itself, reading back its own records, writes at most two per window however many pages it reads', async () => {
      const windowMs = 1_000
      service = await startKeyedApp(kind, { logLevel: 'silent', access: { aggregateWindowMs: windowMs }, feed: { pollMs: 50 } })
      const follower = await service.createKey('ops', ['read', 'admin'], 'trail follower')
      // Each record it causes lands in the feed it follows and ends its wait at once: without
      // aggregation across pages every page would cause the next, as fast as the store can write.
      const seen = await follow(follower.key, '&tenant_id=auditq', windowMs, 4.5)
      expect(seen.ownRecordsSeen).toBeGreaterThan(0)
      expect(seen.records.length).toBeLessThanOrEqual(2 * seen.windows + 1)
      expect(seen.accounted).toBe(seen.pages)
    }, 60_000)
  })
}
