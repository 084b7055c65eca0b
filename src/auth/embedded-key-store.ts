import path from 'node:path'
import Database from 'better-sqlite3'
import type { Scope } from './principal.js'
import { EMBEDDED_DB_FILE } from '../store/embedded/embedded-store.js'
import type { ApiKeyRecord, KeyStore, StoredApiKey } from './key-store.js'

interface KeyRow {
  id: string
  tenant_id: string
  scopes: string
  name: string | null
  secret_hash?: Buffer
  created_at: number
  revoked_at: number | null
}

const COLUMNS = 'id, tenant_id, scopes, name, created_at, revoked_at'

/**
 * API keys in the embedded store's SQLite file, on a connection of its own. Statements are
 * single-row and short, so the synchronous driver holds the event loop for microseconds.
 */
export function createEmbeddedKeyStore(options: { dataDir: string; busyTimeoutMs?: number }): KeyStore {
  const db = new Database(path.resolve(options.dataDir, EMBEDDED_DB_FILE), { timeout: options.busyTimeoutMs ?? 5_000 })
  return new EmbeddedKeyStore(db)
}

class EmbeddedKeyStore implements KeyStore {
  constructor(private readonly db: Database.Database) {}

  async insert(key: StoredApiKey): Promise<void> {
    this.db
      .prepare('INSERT INTO api_keys (id, tenant_id, scopes, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key.id, key.tenant_id, key.scopes.join(','), key.name, key.secret_hash, Date.parse(key.created_at))
  }

  async findById(id: string): Promise<StoredApiKey | null> {
    const row = this.db.prepare<[string], KeyRow>(`SELECT ${COLUMNS}, secret_hash FROM api_keys WHERE id = ?`).get(id)
    return row ? { ...toRecord(row), secret_hash: row.secret_hash! } : null
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.db.prepare<[], KeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`).all().map(toRecord)
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    return this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at.getTime(), id).changes > 0
  }

  async countActive(): Promise<number> {
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL').get()?.n ?? 0
  }

  async countAll(): Promise<number> {
    return this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM api_keys').get()?.n ?? 0
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close()
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    scopes: row.scopes.split(',') as Scope[],
    name: row.name,
    created_at: new Date(row.created_at).toISOString(),
    revoked_at: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString(),
  }
}
