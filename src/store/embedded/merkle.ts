/** Embedded (SQLite) side of `MerkleStore`: reads on the store's connection (synchronous, short), writes in one IMMEDIATE transaction. */
import type { ChainPosition, MerkleStore } from '../../integrity/merkle-store.js'
import { tileKey, type Tile, type TileKey } from '../../integrity/merkle-tiles.js'
import type { SqliteDatabase } from './sqlite-driver.js'

/** Rows read per query while the tree grows; the event loop gets a turn between them. */
const HASH_WINDOW = 5_000
/** Ids per positions query (SQLite's bound-parameter limit is far above it). */
const ID_BATCH = 500

export class EmbeddedMerkle implements MerkleStore {
  constructor(private readonly db: SqliteDatabase) {}

  async size(tenant: string): Promise<number> {
    return this.db.prepare<[string], { size: number }>('SELECT size FROM audit_merkle_trees WHERE tenant_id = ?').get(tenant)?.size ?? 0
  }

  async tiles(tenant: string, keys: readonly TileKey[]): Promise<Map<string, Buffer>> {
    const select = this.db.prepare<[string, number, number], { hashes: Buffer }>('SELECT hashes FROM audit_merkle_tiles WHERE tenant_id = ? AND level = ? AND idx = ?')
    const found = new Map<string, Buffer>()
    for (const key of keys) {
      const row = select.get(tenant, key.level, key.index)
      if (row) found.set(tileKey(key.level, key.index), Buffer.from(row.hashes))
    }
    return found
  }

  async saveTiles(tenant: string, _fromSize: number, toSize: number, tiles: readonly Tile[]): Promise<void> {
    const save = this.db.prepare(
      `INSERT INTO audit_merkle_tiles (tenant_id, level, idx, hashes) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id, level, idx) DO UPDATE SET hashes = excluded.hashes WHERE length(excluded.hashes) > length(audit_merkle_tiles.hashes)`,
    )
    const size = this.db.prepare(
      `INSERT INTO audit_merkle_trees (tenant_id, size) VALUES (?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET size = max(size, excluded.size)`,
    )
    this.db.transaction(() => {
      for (const tile of tiles) save.run(tenant, tile.level, tile.index, tile.hashes)
      size.run(tenant, toSize)
    }).immediate()
  }

  async *chainHashes(tenant: string, fromSeq: number, toSeq: number): AsyncIterable<{ seq: number; hash: string }> {
    const select = this.db.prepare<[string, number, number, number], { seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_logs WHERE tenant_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    )
    let after = fromSeq - 1
    for (;;) {
      const rows = select.all(tenant, after, toSeq, HASH_WINDOW)
      for (const row of rows) yield row
      if (rows.length < HASH_WINDOW) return
      after = rows.at(-1)!.seq
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  async positions(tenant: string, ids: readonly string[]): Promise<Map<string, ChainPosition>> {
    const found = new Map<string, ChainPosition>()
    for (let i = 0; i < ids.length; i += ID_BATCH) {
      const batch = ids.slice(i, i + ID_BATCH)
      const rows = this.db
        .prepare<string[], { id: string; seq: number; prev_hash: string; hash: string }>(
          `SELECT id, seq, prev_hash, hash FROM audit_logs WHERE tenant_id = ? AND seq IS NOT NULL AND id IN (${batch.map(() => '?').join(',')})`,
        )
        .all(tenant, ...batch)
      for (const row of rows) found.set(row.id, { seq: row.seq, prev_hash: row.prev_hash, hash: row.hash })
    }
    return found
  }
}
