/**
 * A bundle larger than one batch of position reads and of proof computations, over two tenants
 * and several signed trees: every line still verifies with the standalone verifier, and each
 * event's path is the one a single proof of it gives.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../test/support/events.js'
import { createEmbeddedStore } from '../store/embedded/embedded-store.js'
import { generateSigningKeyPem, parseSigningKey } from './checkpoint.js'
import { createCheckpoints } from './make-checkpoints.js'
import { bundleLines, eventProof, type BundlePhases } from './proofs.js'

const { verifyBundle } = (await import(new URL('../../tools/verify-bundle.mjs', import.meta.url).href)) as typeof import('../../tools/verify-bundle.mjs')

describe('proof bundles across batches', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bundle-batches-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('5,200 events of two tenants under three trees: verified offline, each path equal to its single proof', async () => {
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 4; i++) {
          await store.insertBatch(Array.from({ length: 250 }, () => storedEvent({ tenant_id: 'acme' })))
          await store.insertBatch(Array.from({ length: round === 2 && i === 3 ? 0 : 200 }, () => storedEvent({ tenant_id: 'globex' })))
        }
        await createCheckpoints(store.integrity!, key)
      }
      const phases: BundlePhases = {}
      let text = ''
      for await (const line of bundleLines(store.integrity, store.stream({}), { filter: {}, phases })) text += line
      const result = verifyBundle(text, [key.publicKey])
      expect(result).toMatchObject({ ok: true, events: 5_200 })
      expect(Object.keys(phases).sort()).toEqual(['checkpoints', 'consistency', 'positions', 'proofs', 'serialize', 'stream'])

      const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; event?: { id: string; tenant_id: string }; proof?: string[] })
      const events = lines.filter((line) => line.type === 'event')
      for (const index of [0, 1, 2047, 2048, 2999, 3000, 3001, events.length - 1]) {
        const line = events[index]!
        const single = await eventProof(store.integrity, (await store.getById(line.event!.id, { tenant_id: line.event!.tenant_id }))!)
        expect(line.proof).toEqual(single.proof)
      }
    } finally {
      await store.close()
    }
  })
})
