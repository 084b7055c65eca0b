/**
 * The RFC 6962 (Certificate Transparency) Merkle tree over a tenant's chain, and the proofs it
 * gives: pure, no I/O. Leaves are the chain hashes in sequence order (leaf index = seq - 1), so
 * the tree does not depend on how an event is serialized: whatever canonical form hashed the
 * event, its chain hash is the leaf.
 *
 *   leaf hash   = SHA-256(0x00 ‖ 32 bytes of the chain hash)
 *   node hash   = SHA-256(0x01 ‖ left ‖ right)
 *   MTH(D[n])   = RFC 6962 §2.1: split at the largest power of two below n
 *
 * Proofs are computed from a `NodeSource`: the hash of any complete, aligned subtree (2^level
 * leaves starting at index * 2^level). Every range the RFC's recursion visits starts on a multiple
 * of its own largest power of two, so its left part is always such a subtree and the source never
 * needs anything else (merkle-tiles.ts stores exactly those, in tiles).
 */
import * as crypto from 'node:crypto'

/**
 * `T` is the form a source keeps hashes in: Buffers (the default), or lower-case hex where the
 * hashes end up as hex anyway (tiles.ts: proofs are served as hex, and a one-shot hash to hex costs
 * a third of one to a Buffer, whose many small allocations the garbage collector then pays for).
 */
export interface NodeSource<T = Buffer> {
  /** Hash of the complete subtree of 2^level leaves starting at leaf index * 2^level. */
  node(level: number, index: number): T
  /** A node's hash from its children's; for Buffers it may be left out (merkleNodeHash). */
  combine?(left: T, right: T): T
}

/** One-shot `crypto.hash` (Node >= 20.12) where there is one: a third of a Hash object's cost per node. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash
const sha256: (data: Buffer) => Buffer = oneShot ? (data) => oneShot('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest()

const sha256Hex: (data: Buffer) => string = oneShot
  ? (data) => (oneShot as unknown as (algorithm: string, data: Buffer, encoding: 'hex') => string)('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex')

/** Scratch input of a node hash (0x01 ‖ left ‖ right): hashing is synchronous, so one per process does. */
const nodeInput = Buffer.alloc(65, 1)

export function merkleLeafHash(data: Buffer): Buffer {
  return sha256(Buffer.concat([Buffer.from([0]), data]))
}

export function merkleNodeHash(left: Buffer, right: Buffer): Buffer {
  if (left.length !== 32 || right.length !== 32) throw new RangeError('merkleNodeHash: 32-byte children expected')
  left.copy(nodeInput, 1)
  right.copy(nodeInput, 33)
  return sha256(nodeInput)
}

/** merkleNodeHash over lower-case hex hashes, to hex. */
export function merkleNodeHashHex(left: string, right: string): string {
  if (left.length !== 64 || right.length !== 64 || nodeInput.write(left, 1, 32, 'hex') !== 32 || nodeInput.write(right, 33, 32, 'hex') !== 32) {
    throw new RangeError('merkleNodeHashHex: children of 64 hex digits expected')
  }
  return sha256Hex(nodeInput)
}

/** The leaf of a chain hash (64 hex digits). */
export function chainLeaf(chainHashHex: string): Buffer {
  return merkleLeafHash(Buffer.from(chainHashHex, 'hex'))
}

/** Scratch input of a leaf hash (0x00 ‖ 32 bytes), as nodeInput. */
const leafInput = Buffer.alloc(33, 0)

/** The leaf of the chain hash at `offset` in `hashes` (32 bytes there), without copying it first. */
export function chainLeafAt(hashes: Buffer, offset: number): Buffer {
  if (offset < 0 || offset + 32 > hashes.length) throw new RangeError('chainLeafAt: 32 bytes expected at the offset')
  hashes.copy(leafInput, 1, offset, offset + 32)
  return sha256(leafInput)
}

/** Largest power of two strictly below n (n >= 2). Arithmetic, not bit operators: sizes pass 2^32. */
export function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function exactLog2(n: number): number | undefined {
  let level = 0
  let size = 1
  while (size < n) {
    size *= 2
    level += 1
  }
  return size === n ? level : undefined
}

/**
 * Hashes of incomplete ranges (the tree's right edge), per source: every proof to the same tree
 * passes along that edge, so a bundle's proofs compute it once instead of once each.
 */
const edgeMemo = new WeakMap<NodeSource<unknown>, Map<string, unknown>>()

/** MTH of leaves [start, end), start < end. */
export function rangeHash<T>(source: NodeSource<T>, start: number, end: number): T {
  const size = end - start
  const level = exactLog2(size)
  if (level !== undefined && start % size === 0) return source.node(level, start / size)
  let memo = edgeMemo.get(source) as Map<string, T> | undefined
  if (!memo) edgeMemo.set(source, (memo = new Map()))
  const key = `${start}/${end}`
  let hash = memo.get(key)
  if (hash === undefined) {
    const k = splitPoint(size)
    const combine = source.combine ?? (merkleNodeHash as unknown as (left: T, right: T) => T)
    hash = combine(rangeHash(source, start, start + k), rangeHash(source, start + k, end))
    memo.set(key, hash)
  }
  return hash
}

export function treeRoot<T>(source: NodeSource<T>, size: number): T {
  if (size < 1) throw new RangeError('a tree with no leaves has no root here: the chain starts at seq 1')
  return rangeHash(source, 0, size)
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): leaf `index` (0-based) in the tree of the first `size` leaves. */
export function inclusionProof<T>(source: NodeSource<T>, index: number, size: number): T[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`)
  const path: T[] = []
  // Iterative form of the recursion: the siblings are pushed root-first, then reversed.
  let start = 0
  let end = size
  while (end - start > 1) {
    const k = splitPoint(end - start)
    if (index < start + k) {
      path.push(rangeHash(source, start + k, end))
      end = start + k
    } else {
      path.push(rangeHash(source, start, start + k))
      start += k
    }
  }
  return path.reverse()
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]): the tree of the first `from` leaves is a prefix of that of `to`. */
export function consistencyProof<T>(source: NodeSource<T>, from: number, to: number): T[] {
  if (!(from >= 1 && from <= to)) throw new RangeError(`no consistency proof from ${from} to ${to}`)
  const proof: T[] = []
  let start = 0
  let end = to
  let m = from
  let haveRoot = true
  while (m !== end - start) {
    const k = splitPoint(end - start)
    if (m <= k) {
      proof.push(rangeHash(source, start + k, end))
      end = start + k
    } else {
      proof.push(rangeHash(source, start, start + k))
      start += k
      m -= k
      haveRoot = false
    }
  }
  if (!haveRoot) proof.push(rangeHash(source, start, end))
  return proof.reverse()
}

/** A NodeSource over leaf hashes held in memory (tests, and small trees). */
export class LeafArraySource implements NodeSource {
  private readonly memo = new Map<string, Buffer>()
  constructor(private readonly leaves: readonly Buffer[]) {}
  node(level: number, index: number): Buffer {
    if (level === 0) {
      const leaf = this.leaves[index]
      if (!leaf) throw new RangeError(`no leaf ${index}`)
      return leaf
    }
    const key = `${level}/${index}`
    let hash = this.memo.get(key)
    if (!hash) {
      hash = merkleNodeHash(this.node(level - 1, index * 2), this.node(level - 1, index * 2 + 1))
      this.memo.set(key, hash)
    }
    return hash
  }
}
