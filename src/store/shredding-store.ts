/**
 * The store as every reader sees it when crypto-shredding is on: the one read-side wrapper, so
 * query, export (stream), get-by-id and reports all reveal sealed values (or `[erased]`) the same
 * way, and a filter on the subject field matches through the blind index. Writes, the chain and
 * verification pass through untouched: they work on what is stored, the ciphertext.
 */
import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'
import type { EventFilter } from '../query/event-filter.js'
import type { ReportData, ReportOptions } from '../report/model.js'
import { Shredder } from '../shred/shredder.js'
import type { ShreddingOptions } from '../shred/options.js'
import type { Page, PageRequest, ReadOptions, Store } from './store.js'

/** Events an export reveals at once: one key lookup per chunk, not per event. */
const REVEAL_CHUNK = 500

const SHREDDER = Symbol('auditq.shredder')

/**
 * The store wrapped for shredding, with the shredder that seals for it. Everything not overridden
 * here (pool statistics, the integrity and key stores, close) is the store's own, so callers that
 * look for adapter-specific members still find them.
 */
export function withShredding(store: Store, options: ShreddingOptions): { store: Store; shredder: Shredder } {
  const existing = shredderOf(store)
  if (existing) return { store, shredder: existing }
  if (!store.subjectKeys) throw new AuditqError('AUDITQ_CONFIG', `crypto-shredding needs a store with a subject key table; the ${store.kind} store given has none`)
  const shredder = new Shredder(options, store.subjectKeys)
  const overrides: Partial<Store> & { [SHREDDER]: Shredder } = {
    [SHREDDER]: shredder,
    async query(filter: EventFilter, page: PageRequest, readOptions?: ReadOptions): Promise<Page> {
      const result = await store.query(await shredder.storeFilter(filter), page, readOptions)
      return { ...result, events: await shredder.reveal(result.events) }
    },
    async getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>, readOptions?: ReadOptions): Promise<AuditEvent | null> {
      const event = await store.getById(id, filter, readOptions)
      return event ? ((await shredder.reveal([event]))[0] ?? null) : null
    },
    stream(filter: EventFilter): AsyncIterable<AuditEvent> {
      return revealStream(store, shredder, filter)
    },
    async report(filter: EventFilter, reportOptions: ReportOptions): Promise<ReportData> {
      const data = await store.report(await shredder.storeFilter(filter), reportOptions)
      if (shredder.subjectField !== 'actor_id') return data
      // One event per pseudonym in the top list (at most topN lookups), from the same tenant scope.
      const sample = async (pseudonym: string) =>
        (await store.query({ ...(filter.tenant_id === undefined ? {} : { tenant_id: filter.tenant_id }), actor_id: pseudonym }, { limit: 1 })).events[0] ?? null
      return { ...data, top_actors: await shredder.revealCounted(data.top_actors, reportOptions.topN, sample) }
    },
  }
  const wrapped = new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof typeof overrides]
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store: wrapped, shredder }
}

/** The shredder of a store `withShredding` wrapped; undefined for any other store. */
export function shredderOf(store: Store): Shredder | undefined {
  return (store as unknown as { [SHREDDER]?: Shredder })[SHREDDER]
}

async function* revealStream(store: Store, shredder: Shredder, filter: EventFilter): AsyncGenerator<AuditEvent> {
  let chunk: AuditEvent[] = []
  for await (const event of store.stream(await shredder.storeFilter(filter))) {
    chunk.push(event)
    if (chunk.length < REVEAL_CHUNK) continue
    yield* await shredder.reveal(chunk)
    chunk = []
  }
  if (chunk.length > 0) yield* await shredder.reveal(chunk)
}
