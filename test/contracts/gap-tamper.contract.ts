/**
 * Tampering that hides in places the chain does not cover on its own: rows stored without a chain
 * position, and forged rows placed in the gaps retention leaves below its cut. Also the ways verify
 * must still agree with a legitimate retention run: a range reaching below the cut, a run cut short
 * half way, and --checkpoints on a tenant whose cut nobody signed. Run by `describeIntegrityContract`
 * on both stores, with its harness.
 */
import { describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import { runCleanup } from '../../src/retention/cleanup.js'
import type { RetentionStore } from '../../src/retention/retention-store.js'
import type { Store } from '../../src/store/store.js'
import type { ChainTamper } from '../support/chain-tamper.js'
import { storedEvent } from '../support/events.js'
import { chainHash, GENESIS_HASH } from '../../src/integrity/canonical.js'
import { generateSigningKeyPem, parseSigningKey } from '../../src/integrity/checkpoint.js'
import type { IntegrityHarness } from './integrity.contract.js'
import type { ChainRow } from '../../src/integrity/types.js'
import { verifyChains } from '../../src/integrity/verify.js'

const DAY = 86_400_000
const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
const old = () => new Date(Date.now() - 100 * DAY).toISOString()
const verify = (store: Store, options = {}) => verifyChains(store.kind, store.integrity!, options)
const signedBy = (external = [] as never[]) => ({ checkpoints: { external, publicKeys: [key.publicKey] } })

async function chainRows(store: Store, tenant: string): Promise<ChainRow[]> {
  return store.integrity!.snapshot(async (snapshot) => {
    const rows: ChainRow[] = []
    for await (const row of snapshot.rows(tenant)) rows.push(row)
    return rows
  })
}

/**
 * A forged row at `seq` with a correctly computed hash over its own content from `prevHash`: a copy
 * of the stored row `source` turned into an old 'doc.view' (an event the cut's rule would delete).
 * Forged through the attacker's connection, which bypasses the guard (a link row must be edited).
 */
function forgedAt(chain: ChainTamper, source: ChainRow, seq: number, prevHash: string): string[] {
  const overrides = { id: uuidv7(), action: 'doc.view' }
  const hash = chainHash(prevHash, { ...source.event, ...overrides, description: 'forged' })
  return chain.forgeAt(source, seq, { prevHash, hash, shift: false }, overrides)
}

/**
 * What a forged row chained from a made-up predecessor reads as. A row stores that predecessor,
 * which links to nothing: not part of the chain. A link position's predecessor is the position
 * before it, so the forged hash simply does not hash from there.
 */
const madeUpPredecessor = (chain: ChainTamper) => (chain.layout === 'rows' ? 'inserted' : 'modified')

/** The store, with deleteChunk failing from its `failOnCall`-th call for `tenant` on. */
function failingDeletes(store: Store, tenant: string, failOnCall: number): Store {
  const integrity = store.integrity!
  let calls = 0
  const deleteChunk: RetentionStore['deleteChunk'] = async (rule, afterSeq, limit) => {
    if (rule.tenant_id === tenant && ++calls >= failOnCall) throw new Error('injected: retention process died mid-run')
    return integrity.deleteChunk(rule, afterSeq, limit)
  }
  // Without partition retention, so the run deletes along the chain (which the partitioned layout
  // also uses for tenants the archive holds back) and the injected failure stops it mid-tenant.
  const wrapped: RetentionStore = Object.create(integrity, { deleteChunk: { value: deleteChunk }, partitionRetention: { value: undefined } })
  return Object.create(store, { integrity: { value: wrapped } }) as Store
}

export function describeGapTamperContract(fresh: () => Promise<IntegrityHarness>): void {
  describe('tampering outside the walked chain', () => {
    it('rows inserted without a chain position make verify fail, in their tenant or a new one', async () => {
      const { store, plain, chain } = await fresh()
      await store.insertBatch(Array.from({ length: 3 }, () => storedEvent({ tenant_id: 'acme' })))
      const [first] = await chainRows(store, 'acme')
      expect((await verify(store)).intact).toBe(true)

      await plain(chain.copyUnchained(first!))
      const report = await verify(store)
      expect(report.intact).toBe(false)
      expect(report.first_break).toMatchObject({ tenant_id: 'acme', problem: 'inserted', detail: expect.stringMatching(/1 event has no chain position/) })
      expect((await verify(store, { tenant_id: 'acme' })).first_break).toMatchObject({ problem: 'inserted' })
      expect((await verify(store, { tenant_id: 'acme', fromSeq: 1, toSeq: 2 })).first_break).toMatchObject({ problem: 'inserted' })
    })

    it('a tenant that has only unchained rows is reported too', async () => {
      const { store, plain, chain } = await fresh()
      await store.insertBatch([storedEvent({ tenant_id: 'acme' })])
      const [first] = await chainRows(store, 'acme')
      await plain(chain.copyUnchained(first!, { tenant_id: 'ghost' }))
      await plain(chain.copyUnchained(first!, { tenant_id: 'ghost' }))
      expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'ghost', problem: 'inserted', detail: expect.stringMatching(/2 events have/) })
      expect((await verify(store, { tenant_id: 'ghost' })).intact).toBe(false)
    })
  })

  describe('rows below a retention cut', () => {
    /** acme: seq 1..8 old (seq 2 and 6, 'user.login', excluded from deletion), 9..10 recent. */
    async function retained(): Promise<IntegrityHarness & { before: ChainRow[]; options: Parameters<typeof runCleanup>[1] }> {
      const harness = await fresh()
      const events = Array.from({ length: 10 }, (_, i) =>
        storedEvent({ tenant_id: 'acme', occurred_at: i < 8 ? old() : new Date().toISOString(), action: i === 1 || i === 5 ? 'user.login' : 'doc.view' }),
      )
      await harness.store.insertBatch(events)
      const before = await chainRows(harness.store, 'acme')
      const options = { cutoff: new Date(Date.now() - 90 * DAY), keepActions: ['user.login'], chunkRows: 2, defaultTenant: 'default', dryRun: false, signingKey: key }
      return { ...harness, before, options }
    }

    it('a forged row in a gap that a completed run left is inserted, with and without checkpoints', async () => {
      const { store, tamper, chain, before, options } = await retained()
      const report = await runCleanup(store, options)
      expect(report.status === 'done' && report.total).toBe(6)
      expect((await verify(store, signedBy())).intact).toBe(true)

      // seq 4 was deleted; neither seq 3 nor 5 is present, so no neighbour link gives it away.
      await tamper(forgedAt(chain, before[1]!, 4, before[2]!.hash))
      expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 4, problem: 'inserted' })
      expect((await verify(store, signedBy())).first_break).toMatchObject({ tenant_id: 'acme', seq: 4, problem: 'inserted' })
    })

    it('a forged row next to a kept one must link to it, even while a run is half done', async () => {
      const { store, tamper, chain, before, options } = await retained()
      // The run dies after its first chunk (seq 1 and 3 deleted): no completion event yet.
      await expect(runCleanup(failingDeletes(store, 'acme', 2), options)).rejects.toThrow(/injected/)
      expect((await chainRows(store, 'acme')).map((row) => row.seq)).toEqual([2, 4, 5, 6, 7, 8, 9, 10])
      expect((await verify(store)).intact).toBe(true)

      // seq 3 is gone; a forged seq 3 with a correct hash of its own but a made-up predecessor.
      await tamper(forgedAt(chain, before[1]!, 3, GENESIS_HASH))
      expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 3, problem: madeUpPredecessor(chain) })
    })

    it('a run that fails on a later tenant still signs the cuts it made; the half-done tenant verifies', async () => {
      const { store, options } = await retained()
      await store.insertBatch(Array.from({ length: 4 }, () => storedEvent({ tenant_id: 'zeta', occurred_at: old() })))
      await expect(runCleanup(failingDeletes(store, 'zeta', 2), options)).rejects.toThrow(/injected/)
      const stored = await store.integrity!.snapshot((snapshot) => snapshot.checkpoints())
      expect(stored.map((c) => [c.tenant_id, c.cut?.seq ?? null]).sort()).toEqual([
        ['acme', 8],
        ['zeta', 4],
      ])
      expect((await verify(store, signedBy())).intact).toBe(true)
    })

    it('a range that reaches below the cut applies the cut instead of reporting the gaps', async () => {
      const { store, tamper, chain, before, options } = await retained()
      await runCleanup(store, options)
      for (const [fromSeq, toSeq] of [
        [1, 11],
        [1, 5],
        [2, 10],
        [7, 9],
        [9, 11],
      ] as const) {
        expect(await verify(store, { fromSeq, toSeq }), `range ${fromSeq}..${toSeq}`).toMatchObject({ intact: true })
      }
      await tamper(forgedAt(chain, before[1]!, 3, GENESIS_HASH))
      expect((await verify(store, { fromSeq: 1, toSeq: 5 })).first_break).toMatchObject({ seq: 3, problem: madeUpPredecessor(chain) })
    })

    it('--checkpoints reports an unsigned cut even when the tenant has no checkpoint at all', async () => {
      const { store, options } = await retained()
      await runCleanup(store, { ...options, signingKey: undefined })
      expect((await verify(store)).intact).toBe(true)
      expect((await verify(store, signedBy())).first_break).toMatchObject({ tenant_id: 'acme', seq: 8, problem: 'unsigned' })
    })
  })
}
