/**
 * How the Merkle tree is kept: in tiles, as transparency-dev's tiled logs do. A tile at tile level
 * L and index t holds up to 16 consecutive node hashes of tree level 4L (level 0: the leaf
 * hashes), 32 bytes each, concatenated. Any complete subtree hash is then one tile read and at most
 * 15 hashes away, so a proof on a chain of a million events reads five small rows and never the
 * events themselves. Height 4, not transparency-dev's 8: a proof then hashes ~80 nodes instead of
 * ~640, and a 10,000-event bundle reads 5 MB of tiles instead of 60 (BENCHMARKS.md), for 1/15 more
 * rows above the leaves. Only the rightmost tile of each level is partial; it is rewritten
 * (only ever longer) as the tree grows. Pure: the store reads and writes the bytes.
 */
import { merkleNodeHash, merkleNodeHashHex, type NodeSource } from './merkle.js'

export const TILE_HEIGHT = 4
export const TILE_WIDTH = 16
const HASH_BYTES = 32

export interface TileKey {
  level: number
  index: number
}

export interface Tile extends TileKey {
  /** The tile's node hashes, 32 bytes each, in order. */
  hashes: Buffer
}

export const tileKey = (level: number, index: number): string => `${level}/${index}`

/** Root of a perfect subtree over `count` (a power of two) consecutive hashes in `hashes` from `first`. */
function perfectRoot(hashes: Buffer, first: number, count: number): Buffer {
  let layer: Buffer[] = []
  for (let i = 0; i < count; i++) layer.push(hashes.subarray((first + i) * HASH_BYTES, (first + i + 1) * HASH_BYTES))
  while (layer.length > 1) {
    const next: Buffer[] = []
    for (let i = 0; i < layer.length; i += 2) next.push(merkleNodeHash(layer[i]!, layer[i + 1]!))
    layer = next
  }
  return layer[0]!
}

/** Where node (level, index) lives: its tile and the run of that tile's entries under it. */
function locate(level: number, index: number): { tile: TileKey; first: number; count: number } {
  const tileLevel = Math.floor(level / TILE_HEIGHT)
  const count = 2 ** (level - tileLevel * TILE_HEIGHT)
  const firstEntry = index * count
  return { tile: { level: tileLevel, index: Math.floor(firstEntry / TILE_WIDTH) }, first: firstEntry % TILE_WIDTH, count }
}

/** Where a tile's nodes of each in-tile level start in its slot array: 16 entries, then 8, 4 and 2 nodes above them. */
const SLOT_START = [0, 16, 24, 28]
const SLOTS = 30

/**
 * A NodeSource over tiles already read, in hex: what proofs are served in, and hashing to hex
 * costs a third of hashing to Buffers (merkle.ts). A node of a tile level's own row is read from
 * its tile; one between rows is hashed from its two children. Every node is kept in its tile's
 * slot array once made, so many proofs over the same tiles (a bundle's) hash each node once.
 * Arrays per tile, not a map per node: a bundle touches tens of thousands of tiles, and a map
 * entry per node cost more than the hashing (BENCHMARKS.md, "Merkle tree").
 */
export class TileSource implements NodeSource<string> {
  private readonly tiles = new Map<number, { hex: string; slots: Array<string | undefined> }>()
  constructor(tiles: ReadonlyMap<string, Buffer>) {
    for (const [key, bytes] of tiles) {
      const [level, index] = key.split('/').map(Number) as [number, number]
      this.tiles.set(numericKey(level, index), { hex: bytes.toString('hex'), slots: new Array<string | undefined>(SLOTS) })
    }
  }

  node(level: number, index: number): string {
    const tileLevel = Math.floor(level / TILE_HEIGHT)
    const sub = level - tileLevel * TILE_HEIGHT
    const perTile = TILE_WIDTH >> sub
    const tileIndex = Math.floor(index / perTile)
    const tile = this.tiles.get(numericKey(tileLevel, tileIndex))
    const at = index - tileIndex * perTile
    const slot = SLOT_START[sub]! + at
    const known = tile?.slots[slot]
    if (known !== undefined) return known
    let hash: string
    if (sub === 0) {
      const offset = at * HASH_BYTES * 2
      if (!tile || tile.hex.length < offset + HASH_BYTES * 2) throw new Error(`Merkle tile ${tileLevel}/${tileIndex} is missing or too short for node ${level}/${index}`)
      hash = tile.hex.slice(offset, offset + HASH_BYTES * 2)
    } else {
      hash = merkleNodeHashHex(this.node(level - 1, index * 2), this.node(level - 1, index * 2 + 1))
    }
    // A tile missing here was missing below too (and threw there): `tile` is defined.
    tile!.slots[slot] = hash
    return hash
  }

  combine(left: string, right: string): string {
    return merkleNodeHashHex(left, right)
  }
}

/** A tile's key as one number (tile level < 64; indexes stay exact far past any chain's length). */
const numericKey = (level: number, index: number): number => index * 64 + level

/**
 * Runs `compute` against a source that only records which tiles it would read: the caller fetches
 * those in one query and runs it again on a TileSource.
 */
export function tilesNeeded(compute: (source: NodeSource<string>) => void): TileKey[] {
  const needed = new Map<string, TileKey>()
  const zero = '0'.repeat(HASH_BYTES * 2)
  compute({
    node(level, index) {
      const { tile } = locate(level, index)
      needed.set(tileKey(tile.level, tile.index), tile)
      return zero
    },
    // Nothing is hashed while recording: only which nodes are asked for matters.
    combine: () => zero,
  })
  return [...needed.values()]
}

/** The partial (rightmost) tile of each level of a tree of `size` leaves: what appending continues. */
export function edgeTiles(size: number): TileKey[] {
  const keys: TileKey[] = []
  for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
    if (count % TILE_WIDTH !== 0) keys.push({ level, index: Math.floor(count / TILE_WIDTH) })
  }
  return keys
}

/**
 * Appends leaves to a tree of `size` leaves whose edge tiles are given, and says which tiles
 * changed. Each tile that fills up gives the next level its entry (the root of its 16 entries).
 */
export class TileAppender {
  private readonly current: Buffer[][] = []
  private readonly index: number[] = []
  /** Tiles written to, by key: the entry list itself (a full tile's list is replaced, never cleared). */
  private readonly changed = new Map<string, { level: number; index: number; list: Buffer[] }>()
  /** Per level, whether the current list is in `changed` already (a key string per leaf was a cost). */
  private readonly listed: boolean[] = []
  size: number

  constructor(size: number, edge: ReadonlyMap<string, Buffer>) {
    this.size = size
    for (let level = 0, count = size; level === 0 || count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
      const index = Math.floor(count / TILE_WIDTH)
      const entries = count % TILE_WIDTH
      const stored = entries === 0 ? Buffer.alloc(0) : edge.get(tileKey(level, index))
      if (!stored || stored.length < entries * HASH_BYTES) throw new Error(`Merkle tile ${level}/${index} is missing or shorter than a tree of ${size} leaves needs`)
      const list: Buffer[] = []
      for (let i = 0; i < entries; i++) list.push(stored.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES))
      this.current.push(list)
      this.index.push(index)
    }
  }

  append(leafHash: Buffer): void {
    this.size += 1
    this.push(0, leafHash)
  }

  private push(level: number, hash: Buffer): void {
    if (this.current.length <= level) {
      this.current.push([])
      this.index.push(0)
    }
    const list = this.current[level]!
    list.push(hash)
    const index = this.index[level]!
    if (!this.listed[level]) {
      this.changed.set(tileKey(level, index), { level, index, list })
      this.listed[level] = true
    }
    if (list.length === TILE_WIDTH) {
      this.current[level] = []
      this.listed[level] = false
      this.index[level] = index + 1
      this.push(level + 1, perfectRoot(Buffer.concat(list), 0, TILE_WIDTH))
    }
  }

  /** Every tile this appender wrote to, with its content now. */
  tiles(): Tile[] {
    return [...this.changed.values()].map(({ level, index, list }) => ({ level, index, hashes: Buffer.concat(list) }))
  }
}
