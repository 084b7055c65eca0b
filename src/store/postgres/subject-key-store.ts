import type pg from 'pg'
import type { StoredSubjectKey, SubjectKeyStore } from '../../shred/subject-keys.js'

interface Row {
  key_id: string
  tenant_id: string
  subject_index: string
  wrapped_key: Buffer
  master_key_id: string
  created_at: Date
}

const COLUMNS = 'key_id, tenant_id, subject_index, wrapped_key, master_key_id, created_at'

/**
 * Wrapped subject keys (`subject_keys`, migration 45). Creating and deleting keys run on the write
 * pool (sealing is part of ingest); lookups on the read pool, beside the reads that need them.
 */
export class PostgresSubjectKeyStore implements SubjectKeyStore {
  constructor(private readonly pools: { write: pg.Pool; read: pg.Pool }) {}

  /**
   * One statement: the insert, or on a conflict the row another process stored first. A CTE's
   * `DO NOTHING` returns no row on conflict, so the second SELECT (same snapshot would miss a row
   * committed meanwhile) is a separate statement, run only then.
   */
  async insertOrGet(key: StoredSubjectKey): Promise<StoredSubjectKey> {
    const inserted = await this.pools.write.query<Row>(
      `INSERT INTO subject_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, subject_index) DO NOTHING RETURNING ${COLUMNS}`,
      [key.key_id, key.tenant_id, key.subject_index, key.wrapped_key, key.master_key_id, key.created_at],
    )
    if (inserted.rows[0]) return toKey(inserted.rows[0])
    const existing = await this.pools.write.query<Row>(`SELECT ${COLUMNS} FROM subject_keys WHERE tenant_id = $1 AND subject_index = $2`, [key.tenant_id, key.subject_index])
    if (existing.rows[0]) return toKey(existing.rows[0])
    // Deleted (erased) between the two statements: try again; the subject gets a fresh key.
    return this.insertOrGet(key)
  }

  async byIds(keyIds: readonly string[]): Promise<StoredSubjectKey[]> {
    if (keyIds.length === 0) return []
    const { rows } = await this.pools.read.query<Row>(`SELECT ${COLUMNS} FROM subject_keys WHERE key_id = ANY($1::text[])`, [keyIds])
    return rows.map(toKey)
  }

  async find(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null> {
    const { rows } = await this.pools.write.query<Row>(`SELECT ${COLUMNS} FROM subject_keys WHERE tenant_id = $1 AND subject_index = $2`, [tenant_id, subject_index])
    return rows[0] ? toKey(rows[0]) : null
  }

  async delete(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null> {
    const { rows } = await this.pools.write.query<Row>(`DELETE FROM subject_keys WHERE tenant_id = $1 AND subject_index = $2 RETURNING ${COLUMNS}`, [tenant_id, subject_index])
    return rows[0] ? toKey(rows[0]) : null
  }

  async all(): Promise<StoredSubjectKey[]> {
    const { rows } = await this.pools.write.query<Row>(`SELECT ${COLUMNS} FROM subject_keys ORDER BY created_at, key_id`)
    return rows.map(toKey)
  }

  async rewrap(key_id: string, wrapped_key: Buffer, master_key_id: string): Promise<void> {
    await this.pools.write.query('UPDATE subject_keys SET wrapped_key = $2, master_key_id = $3 WHERE key_id = $1', [key_id, wrapped_key, master_key_id])
  }
}

function toKey(row: Row): StoredSubjectKey {
  return { ...row, created_at: row.created_at.toISOString() }
}
