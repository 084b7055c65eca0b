/**
 * Merkle tree behaviour both stores must show: checkpoints sign the RFC 6962 root of the chain
 * hashes, single-event and bundle proofs verify offline, each kind of tampering with a bundle
 * fails with its reason named, and a retention cut leaves old and new proofs verifiable.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { CANONICAL_SERIALIZERS, chainHash } from '../../src/integrity/canonical.js'
import { generateSigningKeyPem, parseSigningKey, signCheckpoint } from '../../src/integrity/checkpoint.js'
import { createCheckpoints } from '../../src/integrity/make-checkpoints.js'
import { chainLeaf, LeafArraySource, treeRoot } from '../../src/integrity/merkle.js'
import { consistencyPath } from '../../src/integrity/merkle-log.js'
import { bundleLines, eventProof } from '../../src/integrity/proofs.js'
import type { AuditEvent } from '../../src/event/types.js'
import { runCleanup } from '../../src/retention/cleanup.js'
import type { Store } from '../../src/store/store.js'
import { storedEvent } from '../support/events.js'
import { verifyBundle, verifyConsistency, verifyInclusion } from '../../tools/verify-bundle.mjs'

const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString()
const DAY = 86_400_000

async function chainHashes(store: Store, tenant: string): Promise<string[]> {
  return store.integrity!.snapshot(async (snapshot) => {
    const hashes: string[] = []
    for await (const row of snapshot.rows(tenant)) hashes.push(row.hash)
    return hashes
  })
}

async function insertMany(store: Store, tenant: string, count: number, overrides: (i: number) => Partial<AuditEvent> = () => ({})): Promise<AuditEvent[]> {
  const events = Array.from({ length: count }, (_, i) => storedEvent({ tenant_id: tenant, ...overrides(i) }))
  // Batches of uneven sizes, as group commit writes them.
  for (let i = 0, size = 37; i < events.length; i += size, size = 37 + (i % 50)) await store.insertBatch(events.slice(i, i + size))
  return events
}

export async function bundleOf(store: Store, events: AsyncIterable<AuditEvent>): Promise<string> {
  let text = ''
  for await (const line of bundleLines(store.integrity, events, { filter: {} })) text += line
  return text
}

async function* each<T>(list: readonly T[]): AsyncGenerator<T> {
  yield* list
}

const lines = (text: string) => text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
const unlines = (records: readonly unknown[]) => records.map((record) => JSON.stringify(record)).join('\n') + '\n'

export function describeMerkleContract(name: string, open: () => Promise<{ store: Store; dispose(): Promise<void> }>): void {
  describe(`${name} Merkle tree`, () => {
    const opened: Array<{ dispose(): Promise<void> }> = []
    const fresh = async () => {
      const harness = await open()
      opened.push(harness)
      return harness.store
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((h) => h.dispose()))
    })

    it('checkpoints sign the RFC 6962 root of the chain hashes; proofs to them and between them verify', async () => {
      const store = await fresh()
      const first = await insertMany(store, 'acme', 300)
      await insertMany(store, 'globex', 5)
      const [acme1] = (await createCheckpoints(store.integrity!, key)).filter((c) => c.tenant_id === 'acme')
      const second = await insertMany(store, 'acme', 280)
      const [acme2] = await createCheckpoints(store.integrity!, key, { tenant_id: 'acme' })
      const hashes = await chainHashes(store, 'acme')
      expect(hashes).toHaveLength(580)
      const reference = new LeafArraySource(hashes.map(chainLeaf))
      expect(acme1!.tree).toEqual({ size: 300, root: treeRoot(reference, 300).toString('hex') })
      expect(acme2!.tree).toEqual({ size: 580, root: treeRoot(reference, 580).toString('hex') })

      for (const event of [first[0]!, first[299]!, second[150]!]) {
        const proof = await eventProof(store.integrity, event)
        expect(proof.tree_size).toBe(580)
        expect(proof.checkpoint.tree).toEqual(acme2!.tree)
        const root = Buffer.from(acme2!.tree!.root, 'hex')
        expect(verifyInclusion(proof.leaf_index, proof.tree_size, chainLeaf(proof.hash), proof.proof.map((h) => Buffer.from(h, 'hex')), root)).toBe(true)
        expect(chainHash(proof.prev_hash, event)).toBe(proof.hash)
      }
      const consistency = (await consistencyPath(store.integrity!.merkle!, 'acme', 300, 580)).map((h) => Buffer.from(h, 'hex'))
      expect(verifyConsistency(300, 580, Buffer.from(acme1!.tree!.root, 'hex'), Buffer.from(acme2!.tree!.root, 'hex'), consistency)).toBe(true)
      // An event newer than the latest checkpoint has no proof yet, and the error says so.
      const newer = storedEvent({ tenant_id: 'acme' })
      await store.insertBatch([newer])
      await expect(eventProof(store.integrity, newer)).rejects.toMatchObject({ code: 'AUDITQ_NOT_PROVABLE' })
    })

    it('a bundle verifies offline; one event altered, removed, added or reordered, or a forked checkpoint, fails with its reason', async () => {
      const store = await fresh()
      const events = await insertMany(store, 'acme', 40)
      await createCheckpoints(store.integrity!, key)
      await insertMany(store, 'acme', 30)
      await createCheckpoints(store.integrity!, key)
      const late = await insertMany(store, 'acme', 3)
      // Every fifth event of the first batch and the three never checkpointed.
      const chosen = [...events.filter((_, i) => i % 5 === 0), ...late].reverse()
      const text = await bundleOf(store, each(chosen))
      const ok = verifyBundle(text, [publicPem])
      expect(ok).toMatchObject({ ok: true, events: 8, tenants: 1, checkpoints: 2, unproven: 3 })

      const records = lines(text)
      const eventAt = (k: number) => records.findIndex((r) => r.type === 'event' && r.n === k)
      const reason = (copy: unknown[]) => verifyBundle(unlines(copy), [publicPem]).failure?.reason

      const altered = structuredClone(records)
      ;(altered[eventAt(3)]!.event as AuditEvent).description = 'nothing happened here'
      expect(reason(altered)).toBe('modified')

      const removed = structuredClone(records)
      removed.splice(eventAt(4), 1)
      expect(reason(removed)).toBe('removed')
      const removedLast = structuredClone(records)
      removedLast.splice(eventAt(8), 1)
      expect(reason(removedLast)).toBe('removed')

      // A fabricated event, self-consistent (its hash recomputed), numbered in and counted.
      const added = structuredClone(records)
      const fake = structuredClone(added[eventAt(8)]!) as Record<string, unknown> & { event: AuditEvent }
      fake.event = { ...fake.event, id: storedEvent().id, action: 'user.deleted' }
      fake.prev_hash = added[eventAt(8)]!.hash
      fake.hash = chainHash(fake.prev_hash as string, fake.event)
      fake.seq = (fake.seq as number) + 1
      fake.n = 9
      added.splice(eventAt(8) + 1, 0, fake)
      ;(added.at(-1) as { events: number }).events = 9
      expect(reason(added)).toBe('added')

      const reordered = structuredClone(records)
      const at = eventAt(2)
      ;[reordered[at], reordered[at + 1]] = [reordered[at + 1]!, reordered[at]!]
      expect(reason(reordered)).toBe('reordered')

      // Checkpoints: a root changed without the key, and a second signed tree that does not extend the first.
      const forged = structuredClone(records)
      const cpIndex = forged.findIndex((r) => r.type === 'checkpoint')
      ;(forged[cpIndex]!.checkpoint as { tree: { root: string } }).tree.root = 'ab'.repeat(32)
      expect(reason(forged)).toBe('bad_signature')
      const forked = structuredClone(records)
      const cps = forked.map((r, i) => [r, i] as const).filter(([r]) => r.type === 'checkpoint')
      const newest = cps.at(-1)!
      const { key_id: _k, signature: _s, ...payload } = newest[0].checkpoint as ReturnType<typeof signCheckpoint>
      forked[newest[1]] = { type: 'checkpoint', checkpoint: signCheckpoint({ ...payload, tree: { size: payload.tree!.size, root: 'cd'.repeat(32) } }, key) }
      expect(reason(forked)).toBe('forked')
    })

    it('events stored now carry auditq.v2 in proofs and bundles, verify with both serializers, and a changed added field is modified', async () => {
      const store = await fresh()
      // Keys deliberately unsorted and nested: PostgreSQL's jsonb hands them back in its own order.
      await insertMany(store, 'acme', 12, (i) => ({
        actor_name: `Zoë ${i} 😀`,
        targets: [{ type: 'doc', id: `d${i}`, name: `Plan ${i}` }, { type: 'folder', id: 'f1' }],
        changes: { title: { before: null, after: { text: `t${i}`, lang: 'en', 10: true } } },
        producer_id: 'sdk-1',
        producer_seq: i + 1,
        metadata: { z: 1, a: { y: [1, { b: 2, a: 1 }] } },
      }))
      await createCheckpoints(store.integrity!, key)
      const stored: AuditEvent[] = []
      for await (const event of store.stream({ tenant_id: 'acme' })) stored.push(event)
      expect(stored).toHaveLength(12)
      const proof = await eventProof(store.integrity, stored[3]!)
      expect(proof.canonical).toBe('auditq.v2')
      expect(chainHash(proof.prev_hash, stored[3]!, 2)).toBe(proof.hash)

      const text = await bundleOf(store, each(stored))
      const records = lines(text)
      expect(records.filter((r) => r.type === 'event').map((r) => r.canonical)).toEqual(Array(12).fill('auditq.v2'))
      // The standalone file's own serializers, and auditq's (what `auditq verify-bundle` hands it).
      expect(verifyBundle(text, [publicPem])).toMatchObject({ ok: true, events: 12 })
      expect(verifyBundle(text, [publicPem], { canonicalForms: CANONICAL_SERIALIZERS })).toMatchObject({ ok: true, events: 12 })

      const eventAt = (k: number) => records.findIndex((r) => r.type === 'event' && r.n === k)
      const tamper = (change: (event: AuditEvent) => void) => {
        const copy = structuredClone(records)
        change(copy[eventAt(5)]!.event as AuditEvent)
        return [verifyBundle(unlines(copy), [publicPem]).failure, verifyBundle(unlines(copy), [publicPem], { canonicalForms: CANONICAL_SERIALIZERS }).failure]
      }
      for (const change of [
        (e: AuditEvent) => void (e.targets![0]!.name = 'Another plan'),
        (e: AuditEvent) => void ((e.changes!.title as { before: unknown }).before = 'Draft'),
        (e: AuditEvent) => void (e.producer_seq = 99),
        (e: AuditEvent) => void (e.actor_name = 'Mallory'),
      ]) {
        for (const failure of tamper(change)) expect(failure).toMatchObject({ reason: 'modified', tenant_id: 'acme', seq: 5 })
      }
      // Relabelled as the older form, the event no longer hashes: the tag is part of what is proven.
      const relabelled = structuredClone(records)
      relabelled[eventAt(2)]!.canonical = 'auditq.v1'
      expect(verifyBundle(unlines(relabelled), [publicPem]).failure).toMatchObject({ reason: 'modified', seq: 2 })
    })

    it('after a retention cut, old bundles still verify and new proofs and consistency proofs across the cut verify', async () => {
      const store = await fresh()
      const old = new Date(Date.now() - 200 * DAY).toISOString()
      const events = await insertMany(store, 'acme', 300, (i) => ({ occurred_at: i < 200 ? old : new Date().toISOString(), action: i % 10 === 0 ? 'user.login' : 'doc.view' }))
      const [before] = await createCheckpoints(store.integrity!, key)
      const oldBundle = await bundleOf(store, each(events))
      expect(verifyBundle(oldBundle, [publicPem])).toMatchObject({ ok: true, events: 300 })

      const report = await runCleanup(store, { cutoff: new Date(Date.now() - 90 * DAY), keepActions: ['user.login'], dryRun: false, chunkRows: 50, defaultTenant: 'default', signingKey: key })
      expect(report.status === 'done' && report.total).toBe(180)
      await insertMany(store, 'acme', 20)
      const [after] = await createCheckpoints(store.integrity!, key)
      expect(after!.tree!.size).toBe(321)

      expect(verifyBundle(oldBundle, [publicPem])).toMatchObject({ ok: true, events: 300 })
      const consistency = (await consistencyPath(store.integrity!.merkle!, 'acme', before!.tree!.size, after!.tree!.size)).map((h) => Buffer.from(h, 'hex'))
      expect(verifyConsistency(300, 321, Buffer.from(before!.tree!.root, 'hex'), Buffer.from(after!.tree!.root, 'hex'), consistency)).toBe(true)
      // What survived: the kept logins below the cut and everything after it.
      const surviving = events.filter((e, i) => i >= 200 || e.action === 'user.login')
      const bundle = await bundleOf(store, each(surviving))
      const result = verifyBundle(bundle, [publicPem])
      expect(result).toMatchObject({ ok: true, events: surviving.length })
      expect(lines(bundle).filter((r) => r.type === 'checkpoint').length).toBeGreaterThanOrEqual(2)
    })
  })
}
