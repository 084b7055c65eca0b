import type { Scope } from './principal.js'

/** An API key as listed: everything but the secret, which is never stored. */
export interface ApiKeyRecord {
  id: string
  tenant_id: string
  scopes: Scope[]
  name: string | null
  created_at: string
  revoked_at: string | null
}

export interface StoredApiKey extends ApiKeyRecord {
  /** SHA-256 of the key's secret (see api-key.ts for why a fast hash). */
  secret_hash: Buffer
}

/**
 * Where API keys live: the `api_keys` table (migration 10) of the same database as the events.
 * Each store implements it (`store.keys`, see src/store/postgres/key-store.ts and
 * src/store/embedded/key-store.ts) so that key lookups never queue behind an export or a batch
 * insert; the service caches what it reads. The store owns the connections and closes them.
 */
export interface KeyStore {
  insert(key: StoredApiKey): Promise<void>
  findById(id: string): Promise<StoredApiKey | null>
  /** Every key, revoked ones included, oldest first. */
  list(): Promise<ApiKeyRecord[]>
  /** Marks a key revoked; false when there is no such key or it was already revoked. */
  revoke(id: string, at: Date): Promise<boolean>
  /** Keys not revoked. */
  countActive(): Promise<number>
  /**
   * Keys ever created, revoked ones included: 0 means the service may run open (loopback only).
   * Counting revoked keys too means a key created and revoked between two checks still closes it.
   */
  countAll(): Promise<number>
}
