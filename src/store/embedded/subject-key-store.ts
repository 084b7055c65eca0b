import type { StoredSubjectKey, SubjectKeyStore } from '../../shred/subject-keys.js'
import { asBuffer, type SqliteDatabase } from './sqlite-driver.js'

interface Row {
  key_id: string
  tenant_id: string
  subject_index: string
  /** A Buffer from better-sqlite3, a plain Uint8Array from node:sqlite. */
  wrapped_key: Uint8Array
  master_key_id: string
  created_at: number
}

const COLUMNS = 'key_id, tenant_id, subject_index, wrapped_key, master_key_id, created_at'

/**
 * Wrapped subject keys (`subject_keys`, migration 45) on the store's own connection: every
 * statement is one short row operation, and SQLite serializes writers, so `INSERT … ON CONFLICT DO
 * NOTHING` followed by a read is race-free between processes sharing the file.
 */
export class EmbeddedSubjectKeyStore implements SubjectKeyStore {
  constructor(private readonly db: SqliteDatabase) {}

  async insertOrGet(key: StoredSubjectKey): Promise<StoredSubjectKey> {
    this.db
      .prepare(`INSERT INTO subject_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, subject_index) DO NOTHING`)
      .run(key.key_id, key.tenant_id, key.subject_index, key.wrapped_key, key.master_key_id, Date.parse(key.created_at))
    const stored = await this.find(key.tenant_id, key.subject_index)
    return stored ?? this.insertOrGet(key)
  }

  async byIds(keyIds: readonly string[]): Promise<StoredSubjectKey[]> {
    if (keyIds.length === 0) return []
    // json_each takes the whole list as one parameter, whatever its length.
    return this.db
      .prepare<[string], Row>(`SELECT ${COLUMNS} FROM subject_keys WHERE key_id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(keyIds))
      .map(toKey)
  }

  async find(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null> {
    const row = this.db.prepare<[string, string], Row>(`SELECT ${COLUMNS} FROM subject_keys WHERE tenant_id = ? AND subject_index = ?`).get(tenant_id, subject_index)
    return row ? toKey(row) : null
  }

  async delete(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null> {
    const row = this.db.prepare<[string, string], Row>(`DELETE FROM subject_keys WHERE tenant_id = ? AND subject_index = ? RETURNING ${COLUMNS}`).get(tenant_id, subject_index)
    return row ? toKey(row) : null
  }

  async all(): Promise<StoredSubjectKey[]> {
    return this.db.prepare<[], Row>(`SELECT ${COLUMNS} FROM subject_keys ORDER BY created_at, key_id`).all().map(toKey)
  }

  async rewrap(key_id: string, wrapped_key: Buffer, master_key_id: string): Promise<void> {
    this.db.prepare('UPDATE subject_keys SET wrapped_key = ?, master_key_id = ? WHERE key_id = ?').run(wrapped_key, master_key_id, key_id)
  }
}

function toKey(row: Row): StoredSubjectKey {
  return { ...row, wrapped_key: asBuffer(row.wrapped_key), created_at: new Date(row.created_at).toISOString() }
}
