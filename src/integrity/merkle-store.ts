import type { Tile, TileKey } from './merkle-tiles.js'
import type { Checkpoint } from './types.js'

/**
 * Chain hashes of consecutive seqs: `hashes` holds 32 bytes per seq, the first for `fromSeq`.
 * Bytes, not hex, and many per item: growing the tree hashes each one once, and a hex string and
 * an iteration step per hash were most of the Node side of growth.
 */
export interface ChainHashRun {
  fromSeq: number
  hashes: Buffer
}

/** Where an event sits in its tenant's chain: what a proof and a bundle need besides the event. */
export interface ChainPosition {
  seq: number
  prev_hash: string
  hash: string
  /**
   * The canonical form the row was hashed under, as stored (1 = auditq.v1, 2 = auditq.v2): read
   * with the position because the event as the API returns it does not carry it.
   */
  canonical_version: number
}

/**
 * The Merkle tree's storage (migration 40): tiles of node hashes per tenant and the size they
 * cover. Written only when checkpoints are signed and before retention deletes, never by inserts.
 */
export interface MerkleStore {
  /** How many leaves (seq 1..size) the stored tiles cover; 0 before the first checkpoint with a tree. */
  size(tenant: string): Promise<number>
  /** The tiles asked for that exist, by `tileKey`. */
  tiles(tenant: string, keys: readonly TileKey[]): Promise<Map<string, Buffer>>
  /**
   * Writes tiles and raises the covered size, in one transaction. A stored tile is only ever
   * replaced by a longer one and the size never goes down, so two processes extending the same
   * tree at once cannot shrink it.
   */
  saveTiles(tenant: string, fromSize: number, toSize: number, tiles: readonly Tile[]): Promise<void>
  /**
   * The stored chain hashes of seq fromSeq..toSeq in seq order, as runs of consecutive seqs. A seq
   * with no stored hash is simply absent (a run ends before it; the caller names it); PostgreSQL
   * keeps a deleted event's hash in its link row.
   */
  chainHashes(tenant: string, fromSeq: number, toSeq: number): AsyncIterable<ChainHashRun>
  /** Chain positions of these events of one tenant, by id (ids not found are absent). */
  positions(tenant: string, ids: readonly string[]): Promise<Map<string, ChainPosition>>
  /**
   * The tenant's checkpoints that signed a tree, oldest first, and the first seq hashed with chain
   * format 2 (1 when the tenant never had format 1 rows): what a proof names besides the path.
   * Read without a snapshot (checkpoints are only ever added), so a proof costs no transaction.
   * `latestOnly`: just the newest (one backward index probe, whatever the number signed so far).
   */
  signedTrees(tenant: string, options?: { latestOnly?: boolean }): Promise<{ checkpoints: Checkpoint[]; v2FromSeq: number }>
}
