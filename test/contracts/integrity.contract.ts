/**
 * Integrity behaviour both stores must show: chaining under concurrency, append-only refusal,
 * tamper detection in each of the four ways, whole-table rewrite caught by checkpoints, and
 * retention with exclusions that leaves the chain verifiable. Each store's test file supplies a
 * fresh store and a `tamper` connection that bypasses the append-only guard, as an attacker with
 * database access would (PostgreSQL: session_replication_role = replica; SQLite: dropped triggers).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import type { AuditEvent } from '../../src/event/types.js'
import { runCleanup, RETENTION_ACTION } from '../../src/retention/cleanup.js'
import type { Store } from '../../src/store/store.js'
import type { ChainTamper } from '../support/chain-tamper.js'
import { storedEvent } from '../support/events.js'
import { chainHash } from '../../src/integrity/canonical.js'
import { generateSigningKeyPem, parseSigningKey } from '../../src/integrity/checkpoint.js'
import { describeGapTamperContract } from './gap-tamper.contract.js'
import { createCheckpoints } from '../../src/integrity/make-checkpoints.js'
import type { ChainRow } from '../../src/integrity/types.js'
import { verifyChains } from '../../src/integrity/verify.js'
import { checkEventIntegrity } from '../../src/integrity/event-integrity.js'

export interface IntegrityHarness {
  store: Store
  /** Runs statements on a connection that bypasses the append-only guard. */
  tamper(statements: string[]): Promise<void>
  /** Runs one statement on an ordinary connection (guard in force); rejects when refused. */
  plain(statement: string): Promise<void>
  /** The statements that edit this store's chain layout. */
  chain: ChainTamper
  dispose(): Promise<void>
}

const DAY = 86_400_000
const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)

function event(tenant: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return storedEvent({ tenant_id: tenant, ...overrides })
}

async function chainRows(store: Store, tenant: string): Promise<ChainRow[]> {
  return store.integrity!.snapshot(async (snapshot) => {
    const rows: ChainRow[] = []
    for await (const row of snapshot.rows(tenant)) rows.push(row)
    return rows
  })
}

export function describeIntegrityContract(name: string, createHarness: () => Promise<IntegrityHarness>): void {
  describe(`${name} integrity`, () => {
    const opened: IntegrityHarness[] = []
    async function fresh(): Promise<IntegrityHarness> {
      const harness = await createHarness()
      opened.push(harness)
      return harness
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((h) => h.dispose()))
    })
    const verify = (store: Store, options = {}) => verifyChains(store.kind, store.integrity!, options)

    it('numbers each tenant gap-free under concurrent batches, and a duplicate id never takes a seq', async () => {
      const { store } = await fresh()
      const shared = event('acme')
      const batches = Array.from({ length: 8 }, (_, i) =>
        [shared, ...Array.from({ length: 40 }, (_, j) => event(j % 3 === 0 ? 'acme' : j % 3 === 1 ? 'globex' : `t${i % 2}`))],
      )
      const results = await Promise.all(batches.map((batch) => store.insertBatch(batch)))
      expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(8 * 40 + 1)
      const report = await verify(store)
      expect(report.intact).toBe(true)
      expect(report.events).toBe(8 * 40 + 1)
      const acme = await chainRows(store, 'acme')
      expect(acme.map((row) => row.seq)).toEqual(acme.map((_, i) => i + 1))
    })

    it('an id reused across tenants is chained in both tenants; a repeat within one takes no seq', async () => {
      const { store } = await fresh()
      const globex = event('globex')
      await store.insertBatch([globex, event('acme')])
      const acme = event('acme', { id: globex.id })
      expect(await store.insertBatch([acme, acme, globex])).toEqual({ inserted: 1, duplicates: 2 })
      await store.insertBatch([event('acme')])
      const acmeRows = await chainRows(store, 'acme')
      expect(acmeRows.map((row) => row.seq)).toEqual([1, 2, 3])
      expect(acmeRows[1]!.event).toEqual(acme)
      const globexRows = await chainRows(store, 'globex')
      expect(globexRows.map((row) => [row.seq, row.event])).toEqual([[1, globex]])
      const report = await verify(store)
      expect(report.intact).toBe(true)
      expect(report.events).toBe(4)
    })

    it('hashes what it stores: awkward values read back to the same canonical form', async () => {
      const { store } = await fresh()
      await store.insertBatch([
        event('acme', {
          ip_address: '2001:db8::1',
          description: 'Ünïcödé \u2028 "quoted"\n',
          occurred_at: '2026-01-02T03:04:05.678Z',
          metadata: { '10': 1, '9': 2, b: { z: 1, a: [1.5, 0.1 + 0.2, 1e21, -5e-7, 'ü', null, true] }, a: {} },
        }),
        // The fields added with auditq.v2, as awkward: jsonb reorders keys, integer-like keys, big sequence numbers.
        event('acme', {
          actor_name: 'Zoë "Z"  ',
          targets: [{ type: 'doc', id: '7', name: 'ü' }, { type: 'folder', id: '8' }],
          changes: { '10': { before: null, after: { z: 1, a: [0.1 + 0.2] } }, '9': { before: 'x', after: null }, title: { before: 'a', after: 'b' } },
          producer_id: 'sdk:host-1.a_b',
          producer_seq: Number.MAX_SAFE_INTEGER,
          subject_index: 'c'.repeat(64),
          sealed: { 'metadata.email': 'aqe1:k1:AAAA', ip_address: 'aqe1:k1:BBBB' },
        }),
      ])
      expect(await verify(store)).toMatchObject({ intact: true, events: 2 })
      const rows = await chainRows(store, 'acme')
      expect(rows.map((row) => row.canonical_version)).toEqual([2, 2])
      expect(rows[1]!.event).toMatchObject({ producer_seq: Number.MAX_SAFE_INTEGER, targets: [{ id: '7', name: 'ü', type: 'doc' }, { id: '8', type: 'folder' }] })
    })

    it('names a change to any field added with auditq.v2, and to the canonical version a row records', async () => {
      const { store, tamper, chain } = await fresh()
      await store.insertBatch(
        Array.from({ length: 10 }, (_, i) =>
          event('acme', {
            actor_name: `Name ${i}`,
            targets: [{ type: 'doc', id: String(i) }],
            changes: { title: { before: 'a', after: 'b' } },
            producer_id: 'p1',
            producer_seq: i + 1,
            subject_index: 'a'.repeat(64),
            sealed: { ip_address: 'aqe1:k1:AAAA' },
          }),
        ),
      )
      expect(await verify(store)).toMatchObject({ intact: true, events: 10 })
      // Each edit at a lower seq than the last, so each becomes the first break.
      const edits: Array<[string, number]> = [
        ["actor_name = 'Mallory'", 9],
        ['targets = \'[{"id":"x","type":"doc"}]\'', 8],
        ['changes = \'{"title":{"after":"c","before":"a"}}\'', 7],
        ["producer_id = 'forged'", 6],
        ['producer_seq = 999', 5],
        [`subject_index = '${'b'.repeat(64)}'`, 4],
        ['sealed = \'{"ip_address":"aqe1:k2:AAAA"}\'', 3],
        ['canonical_version = 1', 2],
      ]
      for (const [assignment, seq] of edits) {
        await tamper([`UPDATE audit_logs SET ${assignment} WHERE ${chain.eventAt('acme', seq)}`])
        expect((await verify(store)).first_break, assignment).toMatchObject({ tenant_id: 'acme', seq, problem: 'modified' })
      }
      // A version no form has is not guessed at: the row is reported, verify does not fail.
      await tamper([`UPDATE audit_logs SET canonical_version = 7 WHERE ${chain.eventAt('acme', 1)}`])
      expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 1, problem: 'modified' })
    })

    it('a batch refused for its content leaves no gap', async () => {
      const { store } = await fresh()
      await store.insertBatch([event('acme')])
      const bad = event('acme', { id: 'not-a-uuid', category: 'nope' as never })
      await expect(store.insertBatch([event('acme'), bad])).rejects.toThrow()
      await store.insertBatch([event('acme')])
      expect((await chainRows(store, 'acme')).map((row) => row.seq)).toEqual([1, 2])
      expect((await verify(store)).intact).toBe(true)
    })

    it('verify sees one snapshot while inserts continue', async () => {
      const { store } = await fresh()
      await store.insertBatch(Array.from({ length: 300 }, () => event('acme')))
      let writing = true
      const writer = (async () => {
        while (writing) {
          await store.insertBatch(Array.from({ length: 20 }, () => event('acme')))
          // The embedded store writes synchronously: yield so verify's reads get their turns.
          await new Promise((resolve) => setImmediate(resolve))
        }
      })()
      const reports = [await verify(store), await verify(store)]
      writing = false
      await writer
      for (const report of reports) expect(report.intact).toBe(true)
      expect((await verify(store)).intact).toBe(true)
    })

    it('refuses a plain UPDATE and DELETE of stored events', async () => {
      const { store, plain } = await fresh()
      await store.insertBatch([event('acme')])
      await createCheckpoints(store.integrity!, key)
      await expect(plain("UPDATE audit_logs SET description = 'x'")).rejects.toThrow(/append-only/)
      await expect(plain('DELETE FROM audit_logs')).rejects.toThrow(/append-only/)
      await expect(plain('DELETE FROM audit_checkpoints')).rejects.toThrow(/append-only/)
      await expect(plain("UPDATE audit_checkpoints SET hash = 'x'")).rejects.toThrow(/append-only/)
      // Where format 2 starts decides how rows are hashed: it must not move either.
      await plain("INSERT INTO audit_chain_formats (tenant_id, v2_from_seq) VALUES ('acme', 1)")
      await expect(plain('UPDATE audit_chain_formats SET v2_from_seq = 5')).rejects.toThrow(/append-only/)
      await expect(plain('DELETE FROM audit_chain_formats')).rejects.toThrow(/append-only/)
      expect((await verify(store)).events).toBe(1)
    })

    describe('names the first bad seq when rows are tampered with', () => {
      async function tenRows(): Promise<IntegrityHarness & { rows: ChainRow[] }> {
        const harness = await fresh()
        await harness.store.insertBatch(Array.from({ length: 10 }, (_, i) => event('acme', { description: `e${i + 1}` })))
        await harness.store.insertBatch([event('other')])
        return { ...harness, rows: await chainRows(harness.store, 'acme') }
      }
      it('one event (the viewer’s check): intact, broken once edited (its neighbours stay intact), unchained without a position', async () => {
        const { store, tamper, chain, rows } = await tenRows()
        const check = (seq: number) => checkEventIntegrity(store.kind, store.integrity!, 'acme', rows[seq - 1]!.event.id)
        expect(await check(4)).toMatchObject({ status: 'intact', seq: 4 })
        expect(await check(10)).toMatchObject({ status: 'intact', seq: 10 })
        await tamper([`UPDATE audit_logs SET description = 'rewritten' WHERE ${chain.eventAt('acme', 4)}`])
        expect(await check(4)).toMatchObject({ status: 'broken', seq: 4 })
        expect(await check(7)).toMatchObject({ status: 'intact', seq: 7 })
        await tamper([chain.copyUnchained(rows[0]!)])
        const copy = (await store.query({ tenant_id: 'acme', actor_id: rows[0]!.event.actor_id! }, { limit: 20 })).events.find((e) => e.description === 'forged')!
        expect(await checkEventIntegrity(store.kind, store.integrity!, 'acme', copy.id)).toEqual({ status: 'unchained' })
      })
      it('modified', async () => {
        const { store, tamper, chain } = await tenRows()
        await tamper([`UPDATE audit_logs SET description = 'rewritten' WHERE ${chain.eventAt('acme', 4)}`])
        expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 4, problem: 'modified' })
      })

      it('deleted', async () => {
        const { store, tamper, chain } = await tenRows()
        await tamper([`DELETE FROM audit_logs WHERE ${chain.eventAt('acme', 6)}`])
        expect((await verify(store)).first_break).toMatchObject({ seq: 6, problem: 'deleted' })
      })

      it('deleted and the rest renumbered', async () => {
        const { store, tamper, chain } = await tenRows()
        await tamper(chain.removeAndRenumber('acme', 6))
        // A row records its predecessor's hash, so there the missing link shows. A link row holds
        // one hash per event: a removed position leaves no trace of its own, and what shows is that
        // seq 6 no longer hashes from seq 5 (docs/integrity.md).
        expect((await verify(store)).first_break).toMatchObject({ seq: 6, problem: chain.layout === 'rows' ? 'deleted' : 'modified' })
      })

      it('deleted at the end', async () => {
        const { store, tamper, chain } = await tenRows()
        await tamper([`DELETE FROM audit_logs WHERE ${chain.eventAt('acme', 10)}`])
        expect((await verify(store)).first_break).toMatchObject({ seq: 10, problem: 'deleted' })
      })

      it('inserted, with a correctly computed hash and the rest renumbered', async () => {
        const { store, tamper, rows, chain } = await tenRows()
        const before = rows[3]!
        const forged: AuditEvent = { ...before.event, id: uuidv7(), description: 'forged' }
        await tamper([
          ...chain.forgeAt(before, 5, { prevHash: before.hash, hash: chainHash(before.hash, forged), shift: true }, { id: forged.id }),
          "UPDATE audit_chain_heads SET seq = 11 WHERE tenant_id = 'acme'",
        ])
        expect((await verify(store)).first_break).toMatchObject({ seq: 5, problem: 'inserted' })
      })

      it('a head row whose hash is not a hash does not stop ingest: events are stored and verify names the break', async () => {
        const { store, tamper } = await tenRows()
        await tamper(["UPDATE audit_chain_heads SET hash = 'not-a-hash' WHERE tenant_id = 'acme'"])
        expect(await store.insertBatch([event('acme'), event('acme')])).toEqual({ inserted: 2, duplicates: 0 })
        // seq 11 was linked to the forged head: its predecessor's hash is stored nowhere.
        expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 11, problem: 'deleted' })
      })

      it('deleted head row', async () => {
        const { store, tamper } = await tenRows()
        await tamper(["DELETE FROM audit_chain_heads WHERE tenant_id = 'acme'"])
        expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', seq: 10, problem: 'deleted' })
      })

      it('reordered', async () => {
        const { store, tamper, chain } = await tenRows()
        await tamper(chain.swap('acme', 7))
        expect((await verify(store)).first_break).toMatchObject({ seq: 7, problem: 'reordered' })
      })
    })

    it('checkpoints catch a complete rewrite that the chain alone cannot', async () => {
      const { store, tamper, chain } = await fresh()
      await store.insertBatch(Array.from({ length: 20 }, (_, i) => event('acme', { description: `real ${i}` })))
      const exported = await createCheckpoints(store.integrity!, key)
      expect(exported).toHaveLength(1)
      await store.insertBatch(Array.from({ length: 5 }, () => event('acme')))
      const withFile = { checkpoints: { external: exported, publicKeys: [key.publicKey] } }
      expect(await verify(store, withFile)).toMatchObject({ intact: true, checkpoints_checked: 2 })

      // Someone with database access but not the key rebuilds the whole table consistently.
      await tamper(chain.chainTables.map((table) => `DELETE FROM ${table}`))
      await store.insertBatch(Array.from({ length: 25 }, (_, i) => event('acme', { description: `fake ${i}` })))
      expect((await verify(store)).intact).toBe(true)
      expect((await verify(store, withFile)).first_break).toMatchObject({ tenant_id: 'acme', seq: 20, problem: 'modified' })
    })

    it('latestCheckpoints returns only the newest checkpoint per tenant, and a tick skips a tenant whose head has not moved', async () => {
      const { store } = await fresh()
      const integrity = store.integrity!
      const at = (minute: number) => ({ now: () => new Date(Date.UTC(2026, 0, 1, 0, minute)) })
      const read = (tenant?: string) => integrity.snapshot((snapshot) => snapshot.latestCheckpoints(tenant))

      await store.insertBatch([event('acme'), event('acme'), event('globex')])
      expect(await createCheckpoints(integrity, key, at(0))).toHaveLength(2)
      await store.insertBatch([event('acme')])
      // globex's head has not moved: only acme is signed.
      expect((await createCheckpoints(integrity, key, at(15))).map((c) => [c.tenant_id, c.seq])).toEqual([['acme', 3]])
      const [globexNewest] = await createCheckpoints(integrity, key, { ...at(30), tenant_id: 'globex', force: true })
      await store.insertBatch([event('acme')])
      const [acmeNewest] = await createCheckpoints(integrity, key, at(45))
      expect(acmeNewest).toMatchObject({ tenant_id: 'acme', seq: 4 })
      expect(globexNewest).toMatchObject({ tenant_id: 'globex', seq: 1, created_at: '2026-01-01T00:30:00.000Z' })

      expect(await integrity.snapshot((snapshot) => snapshot.checkpoints())).toHaveLength(5)
      expect(await read()).toEqual([acmeNewest, globexNewest])
      expect(await read('globex')).toEqual([globexNewest])
      expect(await read('initech')).toEqual([])

      // Neither head has moved since its newest checkpoint: the next tick signs nothing.
      expect(await createCheckpoints(integrity, key, at(60))).toEqual([])
      expect(await integrity.snapshot((snapshot) => snapshot.checkpoints())).toHaveLength(5)
    })

    it('a forged checkpoint in the store is reported', async () => {
      const { store } = await fresh()
      await store.insertBatch([event('acme')])
      await createCheckpoints(store.integrity!, key)
      const other = parseSigningKey(generateSigningKeyPem().privateKeyPem)
      const forged = await createCheckpoints(store.integrity!, other, { force: true })
      expect(forged).toHaveLength(1)
      expect((await verify(store, { checkpoints: { external: [], publicKeys: [key.publicKey] } })).first_break).toMatchObject({
        problem: 'bad_signature',
      })
    })

    it('after a key rotation, checkpoints verify with the old and new public keys together, and not without the old one', async () => {
      const { store } = await fresh()
      await store.insertBatch([event('acme'), event('globex')])
      const before = await createCheckpoints(store.integrity!, key)
      const rotated = parseSigningKey(generateSigningKeyPem().privateKeyPem)
      await store.insertBatch([event('acme')])
      await createCheckpoints(store.integrity!, rotated)

      const both = await verify(store, { checkpoints: { external: before, publicKeys: [rotated.publicKey, key.publicKey] } })
      expect(both).toMatchObject({ intact: true, checkpoints_checked: 5, checkpoint_keys: { [key.keyId]: 4, [rotated.keyId]: 1 } })

      const newOnly = await verify(store, { checkpoints: { external: before, publicKeys: [rotated.publicKey] } })
      expect(newOnly.intact).toBe(false)
      expect(newOnly.first_break).toMatchObject({ problem: 'bad_signature', seq: 1 })
      expect(newOnly.first_break!.detail).toContain(`it names key ${key.keyId}, which is not among them`)

      // key_id is a hint, not signed: a checkpoint relabelled with another key's id still verifies by its signature.
      const relabelled = before.map((checkpoint) => ({ ...checkpoint, key_id: rotated.keyId }))
      expect(await verify(store, { checkpoints: { external: relabelled, publicKeys: [key.publicKey, rotated.publicKey] } })).toMatchObject({
        intact: true,
        checkpoint_keys: { [key.keyId]: 4, [rotated.keyId]: 1 },
      })
    })

    it('cleanup with exclusions removes exactly the old, non-excluded events and verify still passes', async () => {
      const { store, tamper, chain } = await fresh()
      const old = new Date(Date.now() - 100 * DAY).toISOString()
      const recent = new Date(Date.now() - 1 * DAY).toISOString()
      // Interleaved in seq order: old and new, excluded and not, two tenants.
      const events = Array.from({ length: 60 }, (_, i) =>
        event(i % 4 === 3 ? 'globex' : 'acme', {
          occurred_at: i % 3 === 0 ? recent : old,
          action: i % 5 === 0 ? 'user.login' : i % 7 === 0 ? 'billing.charge' : 'doc.view',
        }),
      )
      for (let i = 0; i < events.length; i += 7) await store.insertBatch(events.slice(i, i + 7))
      const keepActions = ['user.login', 'billing.charge']
      const expectedKept = events.filter((e) => e.occurred_at === recent || keepActions.includes(e.action)).map((e) => e.id)

      const cutoff = new Date(Date.now() - 90 * DAY)
      const options = { cutoff, keepActions, chunkRows: 4, defaultTenant: 'default', signingKey: key }
      const dry = await runCleanup(store, { ...options, dryRun: true })
      expect(dry.status === 'dry_run' && dry.total).toBe(events.length - expectedKept.length)
      expect((await verify(store)).events).toBe(60)

      const report = await runCleanup(store, { ...options, dryRun: false })
      expect(report.status).toBe('done')
      if (report.status !== 'done') return
      expect(report.total).toBe(events.length - expectedKept.length)
      expect(report.checkpoints.map((c) => c.tenant_id).sort()).toEqual(['acme', 'globex'])

      const remaining = [...(await chainRows(store, 'acme')), ...(await chainRows(store, 'globex'))]
      const runEvents = remaining.filter((row) => row.event.action === RETENTION_ACTION)
      expect(runEvents).toHaveLength(2)
      expect(runEvents[0]!.event.metadata).toMatchObject({ cutoff: cutoff.toISOString(), keep_actions: [RETENTION_ACTION, ...keepActions].sort() })
      expect(remaining.filter((row) => row.event.action !== RETENTION_ACTION).map((row) => row.event.id).sort()).toEqual(expectedKept.sort())

      const signed = { checkpoints: { external: report.checkpoints, publicKeys: [key.publicKey] } }
      expect(await verify(store)).toMatchObject({ intact: true, events: expectedKept.length + 2 })
      expect((await verify(store, signed)).intact).toBe(true)
      await store.insertBatch([event('acme')])
      expect((await verify(store, signed)).intact).toBe(true)

      // A second run finds nothing more and the chain still verifies.
      const again = await runCleanup(store, { ...options, dryRun: false })
      expect(again.status === 'done' && again.total).toBe(0)
      expect((await verify(store, signed)).intact).toBe(true)

      // Deleting an excluded event that the cut promised to keep is caught.
      const keptOld = remaining.find((row) => row.event.tenant_id === 'acme' && row.event.action === 'user.login' && row.event.occurred_at === old)!
      await tamper([`DELETE FROM audit_logs WHERE ${chain.eventAt('acme', keptOld.seq)}`])
      expect((await verify(store)).first_break).toMatchObject({ tenant_id: 'acme', problem: 'deleted' })
    })

    it('only one cleanup runs at a time', async () => {
      const { store } = await fresh()
      await store.insertBatch([event('acme', { occurred_at: new Date(Date.now() - 100 * DAY).toISOString() })])
      const options = { cutoff: new Date(Date.now() - 90 * DAY), keepActions: [], chunkRows: 100, defaultTenant: 'default', dryRun: false }
      let inner: Awaited<ReturnType<typeof runCleanup>> | undefined
      await store.integrity!.withRetentionLock(async () => {
        inner = await runCleanup(store, options)
      })
      expect(inner?.status).toBe('locked')
      expect((await runCleanup(store, options)).status).toBe('done')
    })

    describeGapTamperContract(fresh)
  })
}
