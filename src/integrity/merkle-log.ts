/**
 * The Merkle tree of one tenant's chain, over its stored tiles: growing it to a chain head (at
 * checkpoint time, and before retention deletes) and answering roots and proofs from it.
 */
import { AuditqError } from '../errors.js'
import { chainLeafAt, consistencyProof, inclusionProof, treeRoot, type NodeSource } from './merkle.js'
import type { MerkleStore } from './merkle-store.js'
import { edgeTiles, TileAppender, TileSource, tilesNeeded } from './merkle-tiles.js'

export interface TreeHead {
  size: number
  /** MTH of the first `size` leaves, lower-case hex. */
  root: string
}

/** Leaves appended per saveTiles call: bounds memory and the transaction while a long chain is first read. */
const EXTEND_STEP = 65_536

/**
 * Grows the tenant's stored tree to cover seq 1..toSeq (a no-op when it already does) and returns
 * the head of the tree of exactly `toSeq` leaves. Fails, naming the seq, when a chain hash the
 * tree needs is not stored: the tree is never built over a gap.
 */
export async function extendTree(store: MerkleStore, tenant: string, toSeq: number): Promise<TreeHead> {
  let size = await store.size(tenant)
  while (size < toSeq) {
    const stepEnd = Math.min(toSeq, size + EXTEND_STEP)
    const edge = await store.tiles(tenant, edgeTiles(size))
    const appender = new TileAppender(size, edge)
    for await (const run of store.chainHashes(tenant, size + 1, stepEnd)) {
      if (run.fromSeq !== appender.size + 1) break
      for (let offset = 0; offset < run.hashes.length; offset += 32) appender.append(chainLeafAt(run.hashes, offset))
    }
    if (appender.size !== stepEnd) {
      throw new AuditqError('AUDITQ_NOT_PROVABLE', `tenant ${tenant}: the Merkle tree cannot grow past seq ${appender.size}: the chain hash of seq ${appender.size + 1} is not stored`)
    }
    await store.saveTiles(tenant, size, stepEnd, appender.tiles())
    size = stepEnd
  }
  return treeHead(store, tenant, toSeq)
}

/** Computes `compute` over the stored tiles: one read for every tile it touches. */
export async function withTiles<T>(store: MerkleStore, tenant: string, compute: (source: NodeSource<string>) => T): Promise<T> {
  const keys = tilesNeeded((source) => void compute(source))
  return compute(new TileSource(await store.tiles(tenant, keys)))
}

export async function treeHead(store: MerkleStore, tenant: string, size: number): Promise<TreeHead> {
  return { size, root: await withTiles(store, tenant, (source) => treeRoot(source, size)) }
}

/** Audit path of the event at `seq` to the tree of `size` leaves (hex, leaf to root). */
export async function inclusionPath(store: MerkleStore, tenant: string, seq: number, size: number): Promise<string[]> {
  return withTiles(store, tenant, (source) => inclusionProof(source, seq - 1, size))
}

/**
 * Audit paths of `batches` of seqs to one tree, a Map per batch, in order. The tiles of the next
 * batch are read while this one's paths are computed and used, so the database and the hashing
 * overlap instead of taking turns.
 */
export async function* inclusionPathBatches(store: MerkleStore, tenant: string, batches: ReadonlyArray<readonly number[]>, size: number): AsyncGenerator<Map<number, string[]>> {
  const read = (seqs: readonly number[]) => {
    const tiles = store.tiles(tenant, tilesNeeded((source) => seqs.forEach((seq) => inclusionProof(source, seq - 1, size))))
    // Awaited below, or abandoned when the caller stops early: either way not an unhandled rejection.
    tiles.catch(() => undefined)
    return tiles
  }
  let next = batches[0] ? read(batches[0]) : undefined
  for (let i = 0; i < batches.length; i++) {
    const tiles = await next!
    next = batches[i + 1] ? read(batches[i + 1]!) : undefined
    const source = new TileSource(tiles)
    yield new Map(batches[i]!.map((seq) => [seq, inclusionProof(source, seq - 1, size)]))
  }
}

export async function consistencyPath(store: MerkleStore, tenant: string, from: number, to: number): Promise<string[]> {
  return withTiles(store, tenant, (source) => consistencyProof(source, from, to))
}
