/**
 * Word search answers the same on PostgreSQL (tsvector, GIN) and the embedded store (FTS5): the
 * same events are loaded into both, and every query (hand-picked, then random) returns the same
 * ids from each, which are also the ids a plain in-memory evaluation of the syntax finds. A search
 * never leaves its tenant, and pages through the results like any filter.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../src/event/types.js'
import type { EventFilter } from '../../src/query/event-filter.js'
import { searchTokens } from '../../src/query/search/document.js'
import { parseSearch, type SearchQuery } from '../../src/query/search/syntax.js'
import type { Store } from '../../src/store/store.js'
import { freshStore, type StoreKind, type TestStore } from '../support/app.js'
import { isoAt, storedEvent } from '../support/events.js'
import { postgresAvailable } from '../support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

const WORDS = ['invoice', 'paid', 'late', 'refund', 'login', 'password', 'reset', 'école', 'Привет', '東京', 'u42', '1001', 'admin', 'bot']
const pick = (i: number, n: number) => WORDS[(i * 7 + n * 3) % WORDS.length]!

/** Events whose words overlap in every way the syntax distinguishes: order, adjacency, case, script, field, tenant. */
function dataset(): AuditEvent[] {
  const events: AuditEvent[] = [
    storedEvent({ tenant_id: 'acme', action: 'invoice.paid', description: 'Invoice paid late by the customer', occurred_at: isoAt(-1) }),
    storedEvent({ tenant_id: 'acme', action: 'invoice.refund', description: 'late fee refunded; not paid', occurred_at: isoAt(-2) }),
    storedEvent({ tenant_id: 'acme', action: 'user.login', actor_id: 'U42', description: 'Password reset then login', occurred_at: isoAt(-3) }),
    storedEvent({ tenant_id: 'acme', action: 'user.login', actor_id: 'bot-7', resource_id: 'inv-1001', metadata: { city: '東京', note: { text: 'ÉCOLE Привет' }, n: 1001, tags: ['admin', 'late'] }, occurred_at: isoAt(-4) }),
    storedEvent({ tenant_id: 'globex', action: 'invoice.paid', description: 'invoice paid late', actor_id: 'u42', occurred_at: isoAt(-5) }),
    storedEvent({ tenant_id: 'acme', action: 'doc.view', resource_type: 'invoice', resource_id: 'password-reset', occurred_at: isoAt(-6) }),
  ]
  for (let i = 0; i < 60; i++) {
    events.push(
      storedEvent({
        tenant_id: i % 3 === 0 ? 'globex' : 'acme',
        action: `${pick(i, 0)}.${pick(i, 1)}`.replace(/[^\w.]/g, ''),
        description: `${pick(i, 2)} ${pick(i, 3)} ${pick(i, 4)}`,
        actor_id: pick(i, 5),
        metadata: { a: pick(i, 6), b: [pick(i, 7), i] },
        occurred_at: isoAt(-10 - i),
      }),
    )
  }
  return events
}

/** The syntax's meaning, evaluated over each event's tokens in memory: the oracle both stores must match. */
function oracle(events: AuditEvent[], query: SearchQuery, tenant?: string): string[] {
  const has = (tokens: string[], term: string[]) => tokens.some((_, start) => term.every((token, k) => tokens[start + k] === token))
  return events
    .filter((event) => tenant === undefined || event.tenant_id === tenant)
    .filter((event) => {
      const tokens = searchTokens(event)
      return query.include.every((term) => has(tokens, term)) && !query.exclude.some((term) => has(tokens, term))
    })
    .sort((a, b) => b.occurred_at.localeCompare(a.occurred_at) || b.id.localeCompare(a.id))
    .map((event) => event.id)
}

async function ids(store: Store, filter: EventFilter): Promise<string[]> {
  const page = await store.query(filter, { limit: 1000 })
  return page.events.map((event) => event.id)
}

describe('word search on every store', () => {
  const stores = new Map<StoreKind, TestStore>()
  const events = dataset()
  beforeAll(async () => {
    for (const kind of kinds) {
      const store = await freshStore(kind)
      stores.set(kind, store)
      await store.store.insertBatch(events)
    }
  })
  afterAll(async () => {
    for (const store of stores.values()) await store.dispose()
  })

  it.each([
    ['invoice', 3],
    ['INVOICE paid', 2],
    ['"paid late"', 1],
    ['"late paid"', 0],
    ['paid -refund', 1],
    ['paid -"paid late"', 1],
    ['user.login', 2],
    ['u42', 2],
    ['école', 1],
    ['привет 東京', 1],
    ['1001', 2],
    ['admin late', 1],
    ['"password reset"', 2],
  ])('%j finds the same events everywhere (%i in tenant acme)', async (q, expected) => {
    const query = parseSearch(q)
    const want = oracle(events, query, 'acme')
    const named = want.length
    for (const [kind, { store }] of stores) expect(await ids(store, { tenant_id: 'acme', search: query }), kind).toEqual(want)
    // Within the hand-picked events only: the generated ones share these words.
    expect(named).toBeGreaterThanOrEqual(expected)
  })

  it('answers random queries identically on both stores and as the in-memory evaluation', async () => {
    const word = fc.constantFrom(...WORDS, 'nothinglikethis')
    const term = fc.oneof(
      word,
      fc.array(word, { minLength: 2, maxLength: 3 }).map((words) => `"${words.join(' ')}"`),
    )
    const q = fc.tuple(fc.array(term, { minLength: 1, maxLength: 3 }), fc.array(term, { maxLength: 2 })).map(([include, exclude]) => [...include, ...exclude.map((t) => `-${t}`)].join(' '))
    const tenant = fc.constantFrom(undefined, 'acme', 'globex')
    await fc.assert(
      fc.asyncProperty(q, tenant, async (text, tenantId) => {
        const query = parseSearch(text)
        const want = oracle(events, query, tenantId)
        for (const [kind, { store }] of stores) {
          expect(await ids(store, { ...(tenantId ? { tenant_id: tenantId } : {}), search: query }), `${kind}: ${text}`).toEqual(want)
        }
      }),
      { numRuns: 60 },
    )
  })

  it("never returns another tenant's events, and combines with the other filters and with paging", async () => {
    for (const [kind, { store }] of stores) {
      const query = parseSearch('invoice paid late')
      expect(await ids(store, { tenant_id: 'globex', search: query }), kind).toEqual(oracle(events, query, 'globex'))
      for (const id of await ids(store, { tenant_id: 'globex', search: query })) expect(events.find((e) => e.id === id)!.tenant_id).toBe('globex')
      expect(await ids(store, { tenant_id: 'acme', action: 'invoice.paid', search: query }), kind).toEqual([events[0]!.id])
      // Two pages of one.
      const first = await store.query({ tenant_id: 'acme', search: parseSearch('invoice') }, { limit: 1 })
      const second = await store.query({ tenant_id: 'acme', search: parseSearch('invoice') }, { limit: 1, after: first.next! })
      expect([...first.events, ...second.events].map((e) => e.id), kind).toEqual(oracle(events, parseSearch('invoice'), 'acme').slice(0, 2))
    }
  })

  it('streams (export) the same matches as the paged query', async () => {
    for (const [kind, { store }] of stores) {
      const streamed: string[] = []
      for await (const event of store.stream({ tenant_id: 'acme', search: parseSearch('late') })) streamed.push(event.id)
      expect(streamed, kind).toEqual(oracle(events, parseSearch('late'), 'acme'))
    }
  })
})
