import type { ApiKeyRecord, KeyStore, StoredApiKey } from '../../auth/key-store.js'
import type { Scope } from '../../auth/principal.js'
import { asBuffer, type SqliteDatabase } from './sqlite-driver.js'

interface KeyRow {
  id: string
  tenant_id: string
  scopes: string
  name: string | null
  /** A Buffer from better-sqlite3, a plain Uint8Array from node:sqlite. */
  secret_hash?: Uint8Array
  created_at: number
  revoked_at: number | null
}

const COLUMNS = 'id, tenant_id, scopes, name, created_at, revoked_at'

/**
 * API keys in the embedded store's SQLite file (`api_keys`, migration 10), on the store's own
 * connection: statements are single-row and short, and the store never holds a transaction open
 * across an await on that connection, so a lookup neither waits behind nor splits a write.
 */
export class EmbeddedKeyStore implements KeyStore {
  constructor(private readonly db: SqliteDatabase) {}

  async insert(key: StoredApiKey): Promise<void> {
    this.db
      .prepare('INSERT INTO api_keys (id, tenant_id, scopes, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key.id, key.tenant_id, key.scopes.join(','), key.name, key.secret_hash, Date.parse(key.created_at))
  }

  async findById(id: string): Promise<StoredApiKey | null> {
    const row = this.db.prepare<[string], KeyRow>(`SELECT ${COLUMNS}, secret_hash FROM api_keys WHERE id = ?`).get(id)
    return row ? { ...toRecord(row), secret_hash: asBuffer(row.secret_hash!) } : null
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
