/**
 * The tree hashing and both proof kinds against published RFC 6962 vectors (the Certificate
 * Transparency reference tree and transparency-dev/merkle's testdata, vendored in
 * test/fixtures/merkle-vectors), for the producer (this module and the tiles) and the verifier
 * an auditor runs (tools/verify-bundle.mjs).
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { consistencyProof, inclusionProof, LeafArraySource, merkleLeafHash, treeRoot } from './merkle.js'
import { TileAppender, TileSource, tileKey } from './merkle-tiles.js'
import { verifyConsistency, verifyInclusion } from '../../tools/verify-bundle.mjs'

const dir = path.resolve('test/fixtures/merkle-vectors')
const ct = JSON.parse(readFileSync(path.join(dir, 'ct-reference-tree.json'), 'utf8')) as {
  inputs: string[]
  roots: string[]
  paths: Array<{ leaf: number; snapshot: number; path: string[] }>
  consistency: Array<{ snapshot1: number; snapshot2: number; proof: string[] }>
}
const leaves = ct.inputs.map((input) => merkleLeafHash(Buffer.from(input, 'hex')))
const source = new LeafArraySource(leaves)
const hex = (list: Buffer[]) => list.map((hash) => hash.toString('hex'))
const b64 = (text: string) => Buffer.from(text, 'base64')

describe('RFC 6962 tree hashing and proofs (Certificate Transparency reference vectors)', () => {
  it('the root of every prefix of the reference tree', () => {
    ct.roots.forEach((root, i) => expect(treeRoot(source, i + 1).toString('hex')).toBe(root))
  })

  it('audit paths: produced exactly, and accepted by the verifier (a wrong index or leaf is not)', () => {
    for (const vector of ct.paths) {
      const proof = inclusionProof(source, vector.leaf - 1, vector.snapshot)
      expect(hex(proof)).toEqual(vector.path)
      const root = Buffer.from(ct.roots[vector.snapshot - 1]!, 'hex')
      expect(verifyInclusion(vector.leaf - 1, vector.snapshot, leaves[vector.leaf - 1], proof, root)).toBe(true)
      if (vector.snapshot > 1) {
        expect(verifyInclusion((vector.leaf % vector.snapshot), vector.snapshot, leaves[vector.leaf - 1], proof, root)).toBe(false)
        expect(verifyInclusion(vector.leaf - 1, vector.snapshot, merkleLeafHash(Buffer.from('x')), proof, root)).toBe(false)
      }
    }
  })

  it('consistency proofs: produced exactly, and accepted by the verifier (swapped roots are not)', () => {
    for (const vector of ct.consistency) {
      const proof = consistencyProof(source, vector.snapshot1, vector.snapshot2)
      expect(hex(proof)).toEqual(vector.proof)
      const root1 = Buffer.from(ct.roots[vector.snapshot1 - 1]!, 'hex')
      const root2 = Buffer.from(ct.roots[vector.snapshot2 - 1]!, 'hex')
      expect(verifyConsistency(vector.snapshot1, vector.snapshot2, root1, root2, proof)).toBe(true)
      if (vector.snapshot1 !== vector.snapshot2) expect(verifyConsistency(vector.snapshot1, vector.snapshot2, root2, root1, proof)).toBe(false)
    }
  })
})

describe('transparency-dev/merkle testdata', () => {
  for (const file of readdirSync(path.join(dir, 'transparency-dev/inclusion'))) {
    it(`inclusion ${file}`, () => {
      const v = JSON.parse(readFileSync(path.join(dir, 'transparency-dev/inclusion', file), 'utf8')) as { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[]; wantErr: boolean }
      expect(verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), v.proof.map(b64), b64(v.root))).toBe(!v.wantErr)
      if (!v.wantErr) expect(inclusionProof(source, v.leafIdx, v.treeSize).map((h) => h.toString('base64'))).toEqual(v.proof)
    })
  }
  for (const file of readdirSync(path.join(dir, 'transparency-dev/consistency'))) {
    it(`consistency ${file}`, () => {
      const v = JSON.parse(readFileSync(path.join(dir, 'transparency-dev/consistency', file), 'utf8')) as { size1: number; size2: number; root1: string; root2: string; proof: string[]; wantErr: boolean }
      expect(verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), v.proof.map(b64))).toBe(!v.wantErr)
      if (!v.wantErr) expect(consistencyProof(source, v.size1, v.size2).map((h) => h.toString('base64'))).toEqual(v.proof)
    })
  }
})

describe('tiles', () => {
  it('a tree grown in steps across tile boundaries gives the same roots and proofs as the whole tree in memory', () => {
    const many = Array.from({ length: 70_000 }, (_, i) => merkleLeafHash(Buffer.from(String(i))))
    const reference = new LeafArraySource(many)
    const stored = new Map<string, Buffer>()
    let appender = new TileAppender(0, stored)
    // Steps that end inside a tile, on a tile boundary, and past the first level-1 tile (65,536).
    for (const end of [1, 255, 256, 300, 65_535, 65_536, 70_000]) {
      for (let i = appender.size; i < end; i++) appender.append(many[i]!)
      for (const tile of appender.tiles()) stored.set(tileKey(tile.level, tile.index), tile.hashes)
      const tiles = new TileSource(stored)
      // The tile source works in hex; the reference in Buffers.
      expect(treeRoot(tiles, end)).toBe(treeRoot(reference, end).toString('hex'))
      const leaf = Math.floor(end / 3)
      // Several proofs from one source share its nodes: each is still the reference's.
      for (const index of new Set([0, leaf, end - 1])) expect(inclusionProof(tiles, index, end)).toEqual(hex(inclusionProof(reference, index, end)))
      if (end > 1) expect(consistencyProof(tiles, Math.ceil(end / 2), end)).toEqual(hex(consistencyProof(reference, Math.ceil(end / 2), end)))
      appender = new TileAppender(end, stored)
    }
  })
})
