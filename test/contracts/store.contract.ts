/**
 * Behaviour every Store must show. Each implementation's test file calls `describeStoreContract`
 * with a factory that returns a fresh, migrated store, so both stores are held to one standard.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import type { AuditEvent } from '../../src/event/types.js'
import type { Store } from '../../src/store/store.js'
import { isoAt, storedEvent } from '../support/events.js'

export function describeStoreContract(name: string, createStore: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    const opened: Store[] = []
    async function fresh(): Promise<Store> {
      const store = await createStore()
      opened.push(store)
      return store
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })

    it('migrates idempotently', async () => {
      const store = await fresh()
      const again = await store.migrate()
      expect(again.applied).toEqual([])
      expect(again.current).toBeGreaterThanOrEqual(1)
    })

    it('round-trips every field exactly', async () => {
      const store = await fresh()
      const event = storedEvent({
        category: 'critical',
        success: false,
        error_message: 'denied',
        description: 'Ünïcödé ✓ — "quotes", commas, and\nnewlines',
        ip_address: '2001:db8::1',
        user_agent: 'curl/8.5',
        session_id: 's1',
        request_id: 'r1',
        client_id: 'c1',
        tenant_id: 'acme',
        metadata: { nested: { deep: [1, 'two', { three: true }] }, n: 1.5, nil: null },
      })
      await store.insertBatch([event])
      expect(await store.getById(event.id)).toEqual(event)
      const v4 = storedEvent({ ip_address: '192.0.2.10' })
      await store.insertBatch([v4])
      expect((await store.getById(v4.id))?.ip_address).toBe('192.0.2.10')
    })

    it('stores the same id once, across batches and within one batch', async () => {
      const store = await fresh()
      const event = storedEvent()
      expect(await store.insertBatch([event])).toEqual({ inserted: 1, duplicates: 0 })
      expect(await store.insertBatch([event, storedEvent({ id: event.id, action: 'other' })])).toEqual({
        inserted: 0,
        duplicates: 2,
      })
      const twiceInOne = storedEvent()
      expect(await store.insertBatch([twiceInOne, twiceInOne])).toEqual({ inserted: 1, duplicates: 1 })
      const page = await store.query({}, { limit: 100 })
      expect(page.events.map((e) => e.id).sort()).toEqual([event.id, twiceInOne.id].sort())
      expect((await store.getById(event.id))?.action).toBe('api_key.created')
    })

    it('filters by every field, ANDed, with from inclusive and to exclusive', async () => {
      const store = await fresh()
      const events = [
        storedEvent({ actor_id: 'alice', action: 'login', occurred_at: isoAt(0) }),
        storedEvent({ actor_id: 'alice', action: 'logout', category: 'warning', occurred_at: isoAt(10) }),
        storedEvent({ actor_id: 'bob', action: 'login', success: false, occurred_at: isoAt(20) }),
        storedEvent({ actor_id: 'bob', resource_type: 'doc', resource_id: 'd1', occurred_at: isoAt(30), tenant_id: 't2' }),
      ]
      await store.insertBatch(events)
      const ids = async (filter: Parameters<Store['query']>[0]) =>
        (await store.query(filter, { limit: 100 })).events.map((e) => e.id)
      expect(await ids({ actor_id: 'alice' })).toEqual([events[1]!.id, events[0]!.id])
      expect(await ids({ action: 'login' })).toEqual([events[2]!.id, events[0]!.id])
      expect(await ids({ category: 'warning' })).toEqual([events[1]!.id])
      expect(await ids({ success: false })).toEqual([events[2]!.id])
      expect(await ids({ success: true, actor_id: 'bob' })).toEqual([events[3]!.id])
      expect(await ids({ resource_type: 'doc', resource_id: 'd1' })).toEqual([events[3]!.id])
      expect(await ids({ tenant_id: 't2' })).toEqual([events[3]!.id])
      expect(await ids({ from: isoAt(10), to: isoAt(30) })).toEqual([events[2]!.id, events[1]!.id])
      expect(await ids({ actor_id: 'nobody' })).toEqual([])
    })

    it('pages newest first with a keyset cursor that survives concurrent inserts', async () => {
      const store = await fresh()
      // Ties on occurred_at are deliberate: the id breaks them.
      const original: AuditEvent[] = Array.from({ length: 250 }, (_, i) =>
        storedEvent({ id: uuidv7(), occurred_at: isoAt(Math.floor(i / 3)) }),
      )
      await store.insertBatch(original)
      const expectedOrder = [...original]
        .sort((a, b) => (a.occurred_at === b.occurred_at ? (a.id < b.id ? 1 : -1) : a.occurred_at < b.occurred_at ? 1 : -1))
        .map((e) => e.id)

      const seen: string[] = []
      let page = await store.query({}, { limit: 37 })
      seen.push(...page.events.map((e) => e.id))
      // Rows arriving mid-pagination, both newer and older than the cursor, must not shift the pages.
      await store.insertBatch([
        storedEvent({ occurred_at: isoAt(1000) }),
        storedEvent({ occurred_at: isoAt(-1000), action: 'late.older' }),
      ])
      while (page.next) {
        page = await store.query({}, { limit: 37, after: page.next })
        seen.push(...page.events.map((e) => e.id))
      }
      const originalSeen = seen.filter((id) => expectedOrder.includes(id))
      expect(originalSeen).toEqual(expectedOrder)
      expect(new Set(seen).size).toBe(seen.length)
    })

    it('returns no next cursor on the last page', async () => {
      const store = await fresh()
      await store.insertBatch([storedEvent(), storedEvent()])
      const page = await store.query({}, { limit: 2 })
      expect(page.events).toHaveLength(2)
      const following = page.next ? await store.query({}, { limit: 2, after: page.next }) : { events: [] }
      expect(following.events).toHaveLength(0)
      expect((await store.query({}, { limit: 5 })).next).toBeUndefined()
    })

    it('getById honours the tenant bound', async () => {
      const store = await fresh()
      const event = storedEvent({ tenant_id: 'acme' })
      await store.insertBatch([event])
      expect(await store.getById(event.id, { tenant_id: 'acme' })).not.toBeNull()
      expect(await store.getById(event.id, { tenant_id: 'other' })).toBeNull()
      expect(await store.getById(uuidv7())).toBeNull()
    })

    it('keeps ids unique per tenant: the same id in two tenants is two events', async () => {
      const store = await fresh()
      const globex = storedEvent({ tenant_id: 'globex', action: 'globex.stored', occurred_at: isoAt(0) })
      const acme = storedEvent({ id: globex.id, tenant_id: 'acme', action: 'acme.stored', occurred_at: isoAt(10) })
      expect(await store.insertBatch([globex])).toEqual({ inserted: 1, duplicates: 0 })
      expect(await store.insertBatch([acme])).toEqual({ inserted: 1, duplicates: 0 })
      expect(await store.getById(globex.id, { tenant_id: 'globex' })).toEqual(globex)
      expect(await store.getById(globex.id, { tenant_id: 'acme' })).toEqual(acme)
      expect(await store.getById(globex.id, { tenant_id: 'initech' })).toBeNull()
      const ids = async (tenant: string) => (await store.query({ tenant_id: tenant }, { limit: 10 })).events
      expect(await ids('globex')).toEqual([globex])
      expect(await ids('acme')).toEqual([acme])
      // Within one batch too: the pair is the identity, so only the repeated pair is a duplicate.
      const shared = storedEvent({ tenant_id: 'acme' })
      expect(await store.insertBatch([shared, { ...shared, tenant_id: 'globex' }, shared])).toEqual({
        inserted: 2,
        duplicates: 1,
      })
      expect((await store.getById(shared.id, { tenant_id: 'globex' }))?.tenant_id).toBe('globex')
    })

    it('stores the same id twice in one tenant once, as a duplicate, while another tenant holds it too', async () => {
      const store = await fresh()
      const first = storedEvent({ tenant_id: 'acme', action: 'first' })
      await store.insertBatch([first, storedEvent({ id: first.id, tenant_id: 'globex' })])
      expect(await store.insertBatch([{ ...first, action: 'second' }])).toEqual({ inserted: 0, duplicates: 1 })
      expect((await store.query({ tenant_id: 'acme' }, { limit: 10 })).events).toEqual([first])
      expect((await store.getById(first.id, { tenant_id: 'acme' }))?.action).toBe('first')
    })

    it('getById without a tenant returns the newest of an id held by several tenants, ties by tenant', async () => {
      const store = await fresh()
      const older = storedEvent({ tenant_id: 'acme', occurred_at: isoAt(0) })
      const newer = storedEvent({ id: older.id, tenant_id: 'globex', occurred_at: isoAt(5) })
      await store.insertBatch([newer, older])
      expect(await store.getById(older.id)).toEqual(newer)
      const tieA = storedEvent({ tenant_id: 'zeta', occurred_at: isoAt(0) })
      const tieB = storedEvent({ id: tieA.id, tenant_id: 'alpha', occurred_at: isoAt(0) })
      await store.insertBatch([tieA, tieB])
      expect(await store.getById(tieA.id)).toEqual(tieB)
    })

    it('streams every matching event newest first', async () => {
      const store = await fresh()
      const events = Array.from({ length: 5_000 }, (_, i) =>
        storedEvent({ occurred_at: isoAt(i), actor_id: i % 2 === 0 ? 'even' : 'odd' }),
      )
      for (let i = 0; i < events.length; i += 1000) await store.insertBatch(events.slice(i, i + 1000))
      const streamed: AuditEvent[] = []
      for await (const event of store.stream({ actor_id: 'even' })) streamed.push(event)
      expect(streamed).toHaveLength(2_500)
      expect(streamed[0]!.occurred_at).toBe(isoAt(4998))
      expect(streamed.at(-1)!.occurred_at).toBe(isoAt(0))
      expect(streamed.every((e) => e.actor_id === 'even')).toBe(true)
    })

    it('answers ping', async () => {
      const store = await fresh()
      await expect(store.ping()).resolves.toBeUndefined()
    })
  })
}
