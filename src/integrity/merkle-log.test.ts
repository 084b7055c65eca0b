/**
 * Growing the stored tree from chain hashes delivered in runs: whatever the runs' lengths and
 * however many growth steps, the tiles give the root the whole tree's definition gives, and a seq
 * with no stored hash stops the growth with that seq named. In memory: the stores' own reads are
 * covered by the Merkle contract (test/contracts/merkle.contract.ts) on both stores.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { ChainHashRun, MerkleStore } from './merkle-store.js'
import { extendTree } from './merkle-log.js'
import { chainLeaf, LeafArraySource, treeRoot } from './merkle.js'
import { tileKey, type Tile } from './merkle-tiles.js'

const chainHash = (seq: number) => createHash('sha256').update(`event ${seq}`).digest()

/** A tenant's tiles in memory, its chain hashes served in runs of the given lengths (cycled). */
function memoryStore(options: { chainLength: number; runLengths: number[]; missing?: number }): MerkleStore & { steps: number } {
  const tiles = new Map<string, Buffer>()
  let covered = 0
  const store = {
    steps: 0,
    async size() {
      return covered
    },
    async tiles(_tenant: string, keys: readonly { level: number; index: number }[]) {
      const found = new Map<string, Buffer>()
      for (const key of keys) {
        const tile = tiles.get(tileKey(key.level, key.index))
        if (tile) found.set(tileKey(key.level, key.index), tile)
      }
      return found
    },
    async saveTiles(_tenant: string, _from: number, to: number, written: readonly Tile[]) {
      for (const tile of written) tiles.set(tileKey(tile.level, tile.index), tile.hashes)
      covered = to
      store.steps += 1
    },
    async *chainHashes(_tenant: string, fromSeq: number, toSeq: number): AsyncIterable<ChainHashRun> {
      const last = Math.min(toSeq, options.chainLength)
      for (let seq = fromSeq, run = 0; seq <= last; run++) {
        let end = Math.min(last, seq + options.runLengths[run % options.runLengths.length]! - 1)
        if (options.missing !== undefined && seq <= options.missing && options.missing <= end) end = options.missing - 1
        if (end >= seq) yield { fromSeq: seq, hashes: Buffer.concat(Array.from({ length: end - seq + 1 }, (_, i) => chainHash(seq + i))) }
        // The missing seq is absent: the next run starts after it.
        seq = end + 1 === options.missing ? end + 2 : end + 1
      }
    },
    async positions() {
      return new Map()
    },
    async signedTrees() {
      return { checkpoints: [], v2FromSeq: 1 }
    },
  }
  return store
}

const expectedRoot = (size: number) => treeRoot(new LeafArraySource(Array.from({ length: size }, (_, i) => chainLeaf(chainHash(i + 1).toString('hex')))), size).toString('hex')

describe('growing the Merkle tree from runs of chain hashes', () => {
  it('gives the defined root whatever the runs’ lengths, in one step or several', async () => {
    for (const runLengths of [[1], [7], [16], [33, 1, 250], [1000]]) {
      const store = memoryStore({ chainLength: 1_234, runLengths })
      for (const size of [1, 2, 15, 16, 17, 300, 1_234]) {
        expect(await extendTree(store, 'acme', size), `runs ${runLengths.join(',')}, size ${size}`).toEqual({ size, root: expectedRoot(size) })
      }
    }
  })

  it('stops at a seq with no stored hash, naming it, having written nothing past it', async () => {
    const store = memoryStore({ chainLength: 100, runLengths: [10], missing: 42 })
    await expect(extendTree(store, 'acme', 100)).rejects.toMatchObject({ code: 'AUDITQ_NOT_PROVABLE', message: expect.stringContaining('seq 42 is not stored') })
    expect(await store.size('acme')).toBe(0)
    expect(await extendTree(store, 'acme', 41)).toEqual({ size: 41, root: expectedRoot(41) })
  })
})
