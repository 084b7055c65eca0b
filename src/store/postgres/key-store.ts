import type pg from 'pg'
import type { ApiKeyRecord, KeyStore, StoredApiKey } from '../../auth/key-store.js'
import type { Scope } from '../../auth/principal.js'

interface KeyRow {
  id: string
  tenant_id: string
  scopes: string[]
  name: string | null
  secret_hash?: Buffer
  created_at: Date
  revoked_at: Date | null
}

const COLUMNS = 'id, tenant_id, scopes, name, created_at, revoked_at'

/**
 * API keys in PostgreSQL (`api_keys`, migration 10), over a pool the store opens for them alone
 * (see `openPools` in pools.ts) so a key lookup never queues behind an export or a batch insert.
 * The store closes that pool; this adapter only uses it.
 */
export class PostgresKeyStore implements KeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(key: StoredApiKey): Promise<void> {
    await this.pool.query('INSERT INTO api_keys (id, tenant_id, scopes, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      key.id,
      key.tenant_id,
      key.scopes,
      key.name,
      key.secret_hash,
      key.created_at,
    ])
  }

  async findById(id: string): Promise<StoredApiKey | null> {
    const { rows } = await this.pool.query<KeyRow>(`SELECT ${COLUMNS}, secret_hash FROM api_keys WHERE id = $1`, [id])
    const row = rows[0]
    return row ? { ...toRecord(row), secret_hash: row.secret_hash! } : null
  }

  async list(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.pool.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`)
    return rows.map(toRecord)
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const result = await this.pool.query('UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at])
    return (result.rowCount ?? 0) > 0
  }

  async countActive(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL')
    return Number(rows[0]?.n ?? 0)
  }

  async countAll(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM api_keys')
    return Number(rows[0]?.n ?? 0)
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    scopes: row.scopes as Scope[],
    name: row.name,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
  }
}
