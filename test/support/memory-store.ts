import type { ApiKeyRecord, KeyStore, StoredApiKey } from '../../src/auth/key-store.js'
import type { AuditEvent } from '../../src/event/types.js'
import type { ReportData, ReportOptions } from '../../src/report/model.js'
import type { EventFilter } from '../../src/query/event-filter.js'
import type { InsertResult, Page, PageRequest, Store, StoreErrorKind } from '../../src/store/store.js'
import { expectedReport } from './report-oracle.js'

export class InjectedStoreError extends Error {
  constructor(
    message: string,
    readonly kind: StoreErrorKind,
  ) {
    super(message)
  }
}

/**
 * A Store for testing the *callers* of a store (group commit, the SDK's bookkeeping) with exact
 * control over latency and failures. Never used to prove store behaviour: the real stores run the
 * contract suite against SQLite and PostgreSQL.
 */
export class MemoryStore implements Store {
  readonly kind = 'embedded' as const
  /** Like a server-backed store, so the group commit's parallel commits are exercised. */
  readonly parallelWrites = true
  readonly description = 'memory'
  readonly keys: KeyStore = new MemoryKeyStore()
  /** Keyed by tenant and id: ids are unique per tenant, like the real stores' primary key. */
  readonly rows = new Map<string, AuditEvent>()
  readonly batchSizes: number[] = []
  /** Batches inside insertBatch right now, and the most there ever were at once. */
  concurrent = 0
  maxConcurrent = 0
  /** Each batch's events in the order they were stored (for order checks). */
  readonly stored: AuditEvent[] = []
  latencyMs = 0
  /** Refuse any batch containing an event whose action matches this (a content error). */
  poisonAction: string | undefined
  /** Fail every call as if the server were down. */
  down = false

  async migrate() {
    return { applied: [], current: 1 }
  }

  async insertBatch(events: readonly AuditEvent[]): Promise<InsertResult> {
    this.batchSizes.push(events.length)
    this.concurrent += 1
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent)
    try {
      return await this.insertNow(events)
    } finally {
      this.concurrent -= 1
    }
  }

  private async insertNow(events: readonly AuditEvent[]): Promise<InsertResult> {
    // A bigger batch takes longer, as in a real store: a later, smaller batch can overtake it.
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs * (1 + events.length / 100)))
    if (this.down) throw new InjectedStoreError('connection refused', 'transient')
    if (events.some((event) => event.action === this.poisonAction)) {
      throw new InjectedStoreError(`value refused for ${this.poisonAction}`, 'data')
    }
    let inserted = 0
    for (const event of events) {
      const key = `${event.tenant_id}\u0000${event.id}`
      if (this.rows.has(key)) continue
      this.rows.set(key, structuredClone(event))
      this.stored.push(event)
      inserted += 1
    }
    return { inserted, duplicates: events.length - inserted }
  }

  async query(_filter: EventFilter, page: PageRequest): Promise<Page> {
    return { events: [...this.rows.values()].slice(0, page.limit) }
  }

  async getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>) {
    const matches = [...this.rows.values()].filter((e) => e.id === id && (filter?.tenant_id ?? e.tenant_id) === e.tenant_id)
    return matches.sort((a, b) => (a.occurred_at === b.occurred_at ? (a.tenant_id < b.tenant_id ? -1 : 1) : a.occurred_at < b.occurred_at ? 1 : -1))[0] ?? null
  }

  async *stream(): AsyncIterable<AuditEvent> {
    yield* this.rows.values()
  }

  async report(filter: EventFilter, options: ReportOptions): Promise<ReportData> {
    if (this.down) throw new InjectedStoreError('connection refused', 'transient')
    return expectedReport([...this.rows.values()], filter, options)
  }

  async ping() {
    if (this.down) throw new InjectedStoreError('connection refused', 'transient')
  }

  classifyError(error: unknown): StoreErrorKind {
    return error instanceof InjectedStoreError ? error.kind : 'transient'
  }

  async close() {}
}

/** Keys in a map: enough for callers of a store that never look at keys (the service's tests use the real stores). */
class MemoryKeyStore implements KeyStore {
  private readonly byId = new Map<string, StoredApiKey>()

  async insert(key: StoredApiKey): Promise<void> {
    this.byId.set(key.id, { ...key })
  }

  async findById(id: string): Promise<StoredApiKey | null> {
    return this.byId.get(id) ?? null
  }

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.byId.values()].map(({ secret_hash: _hash, ...record }) => record)
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const key = this.byId.get(id)
    if (!key || key.revoked_at !== null) return false
    key.revoked_at = at.toISOString()
    return true
  }

  async countActive(): Promise<number> {
    return [...this.byId.values()].filter((key) => key.revoked_at === null).length
  }

  async countAll(): Promise<number> {
    return this.byId.size
  }
}
