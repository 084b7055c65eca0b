import pg from 'pg'
import type { Scope } from './principal.js'
import { splitStartupOptions } from '../store/postgres/postgres-store.js'
import type { ApiKeyRecord, KeyStore, StoredApiKey } from './key-store.js'

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
 * API keys in PostgreSQL, on a pool of its own (two connections: lookups are rare once cached),
 * with the same search_path as the event store so both see one schema.
 */
export function createPostgresKeyStore(options: { connectionString: string; schema: string }): KeyStore {
  const { connectionString, extraOptions } = splitStartupOptions(options.connectionString)
  const pool = new pg.Pool({
    connectionString,
    max: 2,
    application_name: 'auditq-keys',
    connectionTimeoutMillis: 5_000,
    options: [extraOptions, `-c search_path=${options.schema} -c TimeZone=UTC`].filter(Boolean).join(' '),
  })
  // An idle connection dropping must not crash the process; the next lookup reconnects or fails.
  pool.on('error', () => undefined)
  return new PostgresKeyStore(pool)
}

class PostgresKeyStore implements KeyStore {
  private ended: Promise<void> | undefined

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

  close(): Promise<void> {
    this.ended ??= this.pool.end()
    return this.ended
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
