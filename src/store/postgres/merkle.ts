/** PostgreSQL side of `MerkleStore` (see merkle-sql.ts). Writes on the write pool, one statement per step. */
import type pg from 'pg'
import type { ChainHashRun, ChainPosition, MerkleStore } from '../../integrity/merkle-store.js'
import type { Checkpoint } from '../../integrity/types.js'
import { CHECKPOINT_COLUMNS, toCheckpoint, type CheckpointDbRow } from './checkpoint-rows.js'
import { tileKey, type Tile, type TileKey } from '../../integrity/merkle-tiles.js'
import { INDEX_POSITIONS_SQL, LAYOUT1_HASHES_SQL, LINK_HASHES_SQL, POSITIONS_COVERAGE_SQL, POSITIONS_SQL, SAVE_STEP_SQL } from './merkle-sql.js'

/** Link rows read per query while the tree grows (a link row is one batch, up to a few hundred events). */
const LINK_WINDOW = 200

/**
 * Seqs indexed per statement when the positions index catches up: a million-event catch-up is ten
 * transactions of a few hundred milliseconds each, not one that holds its locks for seconds.
 */
const POSITIONS_CHUNK = 100_000

export class PostgresMerkle implements MerkleStore {
  /** Catch-ups running in this process, by tenant: concurrent proofs (an export reads positions two batches at a time) share one. */
  private readonly indexing = new Map<string, Promise<boolean>>()

  constructor(private readonly pool: pg.Pool) {}

  async size(tenant: string): Promise<number> {
    const { rows } = await this.pool.query<{ size: string }>('SELECT size FROM audit_merkle_trees WHERE tenant_id = $1', [tenant])
    return rows[0] ? Number(rows[0].size) : 0
  }

  async tiles(tenant: string, keys: readonly TileKey[]): Promise<Map<string, Buffer>> {
    if (keys.length === 0) return new Map()
    const { rows } = await this.pool.query<{ level: number; idx: string; hashes: Buffer }>(
      // A primary-key probe per tile (LATERAL; `LIMIT 1` keeps it from being flattened into a
      // join): as a join, a tiles table not yet analyzed was hashed whole, spilling to disk, for
      // every batch of a bundle.
      `SELECT k.l AS level, k.i AS idx, t.hashes FROM unnest($2::smallint[], $3::bigint[]) AS k(l, i)
        CROSS JOIN LATERAL (SELECT hashes FROM audit_merkle_tiles WHERE tenant_id = $1 AND level = k.l AND idx = k.i LIMIT 1) t`,
      [tenant, keys.map((key) => key.level), keys.map((key) => key.index)],
    )
    return new Map(rows.map((row) => [tileKey(row.level, Number(row.idx)), row.hashes]))
  }

  /** One statement (SAVE_STEP_SQL): atomic as a transaction, one round trip. */
  async saveTiles(tenant: string, _fromSize: number, toSize: number, tiles: readonly Tile[]): Promise<void> {
    await this.pool.query(SAVE_STEP_SQL, [tenant, tiles.map((tile) => tile.level), tiles.map((tile) => tile.index), tiles.map((tile) => tile.hashes), toSize])
  }

  async *chainHashes(tenant: string, fromSeq: number, toSeq: number): AsyncIterable<ChainHashRun> {
    // Layout 1 rows (chained before migration 7) come first in a tenant's seqs, then the link rows.
    const legacy = await this.pool.query<{ seq: string; hash: string }>(LAYOUT1_HASHES_SQL, [tenant, fromSeq, toSeq])
    for (const row of legacy.rows) yield { fromSeq: Number(row.seq), hashes: Buffer.from(row.hash, 'hex') }
    let after = -1
    for (;;) {
      const { rows } = await this.pool.query<{ start_seq: string; links: Buffer }>(LINK_HASHES_SQL, [tenant, fromSeq, toSeq, after, LINK_WINDOW])
      for (const row of rows) {
        // Each link row is a run of consecutive seqs: yield the part of it inside the range.
        const start = Number(row.start_seq)
        const first = Math.max(start, fromSeq)
        const last = Math.min(start + row.links.length / 32 - 1, toSeq)
        if (last >= first) yield { fromSeq: first, hashes: row.links.subarray((first - start) * 32, (last - start + 1) * 32) }
        after = start
      }
      if (rows.length < LINK_WINDOW) return
    }
  }

  /**
   * By the positions index (id -> seq), which is written here, on demand: when an id is not found
   * and the index covers less than the tree, it first catches up to the tree's size. So ingest
   * never pays for it, and a proof after a long quiet spell of proofs pays once for every event
   * grown into the tree since (about 4 s per million on a two-core machine, BENCHMARKS.md).
   * Events beyond the tree have no proof yet and are absent either way.
   */
  async positions(tenant: string, ids: readonly string[]): Promise<Map<string, ChainPosition>> {
    if (ids.length === 0) return new Map()
    const found = await this.readPositions(tenant, ids)
    const wanted = new Set(ids).size
    // A second round: a catch-up this call joined may have started before the tree grew.
    for (let round = 0; round < 2 && found.size < wanted; round++) {
      const indexed = await this.indexPositionsOnce(tenant)
      // Read again even when there was nothing left to index: a catch-up elsewhere (another
      // process, or one here that ended before this call could join it) may have written the
      // positions after the first read missed them.
      for (const [id, position] of await this.readPositions(tenant, ids.filter((id) => !found.has(id)))) found.set(id, position)
      if (!indexed) break
    }
    return found
  }

  private async readPositions(tenant: string, ids: readonly string[]): Promise<Map<string, ChainPosition>> {
    const { rows } = await this.pool.query<{ id: string; seq: string; prev_hash: string; hash: string; canonical_version: number }>(POSITIONS_SQL, [tenant, ids])
    return new Map(rows.map((row) => [row.id, { seq: Number(row.seq), prev_hash: row.prev_hash, hash: row.hash, canonical_version: row.canonical_version }]))
  }

  private indexPositionsOnce(tenant: string): Promise<boolean> {
    let running = this.indexing.get(tenant)
    if (!running) {
      running = this.indexPositions(tenant).finally(() => this.indexing.delete(tenant))
      this.indexing.set(tenant, running)
    }
    return running
  }

  /** Indexes the positions the tree covers and the index does not yet; false when there were none. */
  private async indexPositions(tenant: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ size: string; positions_size: string }>(POSITIONS_COVERAGE_SQL, [tenant])
    if (!rows[0]) return false
    const size = Number(rows[0].size)
    let from = Number(rows[0].positions_size)
    if (from >= size) return false
    for (; from < size; from = Math.min(from + POSITIONS_CHUNK, size)) {
      await this.pool.query(INDEX_POSITIONS_SQL, [tenant, from, Math.min(from + POSITIONS_CHUNK, size)])
    }
    return true
  }

  async signedTrees(tenant: string, options: { latestOnly?: boolean } = {}): Promise<{ checkpoints: Checkpoint[]; v2FromSeq: number }> {
    const order = options.latestOnly ? 'ORDER BY id DESC LIMIT 1' : 'ORDER BY id'
    const [checkpoints, formats] = await Promise.all([
      this.pool.query<CheckpointDbRow>(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tenant_id = $1 AND tree_size IS NOT NULL ${order}`, [tenant]),
      this.pool.query<{ v2_from_seq: string }>('SELECT v2_from_seq FROM audit_chain_formats WHERE tenant_id = $1', [tenant]),
    ])
    return { checkpoints: checkpoints.rows.map(toCheckpoint), v2FromSeq: formats.rows[0] ? Number(formats.rows[0].v2_from_seq) : 1 }
  }
}
