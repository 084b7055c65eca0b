/**
 * Data keys as the sealing and reading sides use them: created on first use, unwrapped with the
 * master key, cached for a bounded time. A key missing from the store means its subject was erased.
 */
import { AuditqError } from '../errors.js'
import { indexKey, keyEncryptionKey, masterKeyId, newDataKey, newKeyId, unwrapKey, wrapKey, type KeyBinding } from './crypto.js'
import { MASTER_KEY_SETTING } from './master-key.js'
import type { StoredSubjectKey, SubjectKeyStore } from './subject-keys.js'

/**
 * The index root is stored like a data key under a tenant no event can have (tenant ids are never
 * empty), so it needs no table of its own and no erasure can reach it.
 */
export const INDEX_ROOT = { tenant_id: '', subject_index: 'index-root' } as const

/** Cached entries at most; the oldest go first. Bounds memory on a deployment with many subjects. */
const CACHE_MAX = 50_000

interface Cached<T> {
  value: T
  until: number
}

export interface DataKey {
  key_id: string
  key: Buffer
}

export class Keyring {
  readonly masterKeyId: string
  private readonly kek: Buffer
  private indexKey_: Promise<Buffer> | undefined
  private readonly bySubject = new Map<string, Cached<DataKey>>()
  /** null: the key is gone (erased). */
  private readonly byId = new Map<string, Cached<Buffer | null>>()
  /** Lookups under way: concurrent events of one new subject share one round trip. */
  private readonly pending = new Map<string, Promise<DataKey>>()

  constructor(
    private readonly store: SubjectKeyStore,
    masterKey: Buffer,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.kek = keyEncryptionKey(masterKey)
    this.masterKeyId = masterKeyId(masterKey)
  }

  /** The blind-index key; its root is created on first use, once per store. */
  indexKey(): Promise<Buffer> {
    this.indexKey_ ??= this.createOrGet(INDEX_ROOT.tenant_id, INDEX_ROOT.subject_index).then((root) => indexKey(root.key))
    // A failure (store down) must not stick: the next call tries again.
    this.indexKey_.catch(() => (this.indexKey_ = undefined))
    return this.indexKey_
  }

  /** The subject's data key, created if it has none (or had one that was erased). */
  async forSubject(tenant_id: string, subject_index: string): Promise<DataKey> {
    const cacheKey = `${tenant_id}\u0000${subject_index}`
    const cached = this.fresh(this.bySubject, cacheKey)
    if (cached) return cached.value
    let pending = this.pending.get(cacheKey)
    if (pending === undefined) {
      pending = this.createOrGet(tenant_id, subject_index).then((key) => {
        this.put(this.bySubject, cacheKey, key)
        this.put(this.byId, key.key_id, key.key)
        return key
      })
      this.pending.set(cacheKey, pending)
      const done = () => this.pending.delete(cacheKey)
      pending.then(done, done)
    }
    return pending
  }

  /** The data keys of these ids; null for each one that no longer exists. */
  async byIds(keyIds: readonly string[]): Promise<Map<string, Buffer | null>> {
    const found = new Map<string, Buffer | null>()
    const missing: string[] = []
    for (const id of new Set(keyIds)) {
      const cached = this.fresh(this.byId, id)
      if (cached) found.set(id, cached.value)
      else missing.push(id)
    }
    if (missing.length === 0) return found
    const stored = new Map((await this.store.byIds(missing)).map((row) => [row.key_id, row]))
    for (const id of missing) {
      const row = stored.get(id)
      const key = row ? this.unwrap(row) : null
      found.set(id, key)
      this.put(this.byId, id, key)
    }
    return found
  }

  /** Drops what this process cached about a subject's key (after erasing it). */
  forget(tenant_id: string, subject_index: string, key_id?: string): void {
    this.bySubject.delete(`${tenant_id}\u0000${subject_index}`)
    if (key_id !== undefined) this.byId.set(key_id, { value: null, until: Number.POSITIVE_INFINITY })
  }

  /** The data key of a stored row; a row wrapped under another master key is an error naming the setting. */
  unwrap(row: StoredSubjectKey): Buffer {
    if (row.master_key_id !== this.masterKeyId) {
      throw new AuditqError(
        'AUDITQ_MASTER_KEY',
        `${MASTER_KEY_SETTING}: the store's keys are wrapped under master key ${row.master_key_id}, the configured key is ${this.masterKeyId}; configure the key they were made with (or rewrap them under it: auditq rewrap-keys --old-key-file FILE)`,
      )
    }
    try {
      return unwrapKey(this.kek, row.wrapped_key, binding(row))
    } catch (error) {
      throw new AuditqError('AUDITQ_MASTER_KEY', `subject key ${row.key_id} does not open under ${MASTER_KEY_SETTING} (altered in the store?)`, { cause: error })
    }
  }

  /** The wrapping of a data key under this master key, for a row about to be stored. */
  wrap(key: Buffer, where: KeyBinding): Buffer {
    return wrapKey(this.kek, key, where)
  }

  private async createOrGet(tenant_id: string, subject_index: string): Promise<DataKey> {
    const key = newDataKey()
    const key_id = newKeyId()
    const candidate: StoredSubjectKey = {
      key_id,
      tenant_id,
      subject_index,
      wrapped_key: this.wrap(key, { key_id, tenant_id, subject_index }),
      master_key_id: this.masterKeyId,
      created_at: new Date(this.now()).toISOString(),
    }
    const stored = await this.store.insertOrGet(candidate)
    if (stored.key_id === key_id) return { key_id, key }
    return { key_id: stored.key_id, key: this.unwrap(stored) }
  }

  private fresh<T>(map: Map<string, Cached<T>>, key: string): Cached<T> | undefined {
    const entry = map.get(key)
    if (entry === undefined) return undefined
    if (entry.until > this.now()) return entry
    map.delete(key)
    return undefined
  }

  private put<T>(map: Map<string, Cached<T>>, key: string, value: T): void {
    if (map.size >= CACHE_MAX) map.delete(map.keys().next().value as string)
    map.set(key, { value, until: this.now() + this.ttlMs })
  }
}

function binding(row: StoredSubjectKey): KeyBinding {
  return { key_id: row.key_id, tenant_id: row.tenant_id, subject_index: row.subject_index }
}
