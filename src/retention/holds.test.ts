/**
 * Retention with legal holds, tenants' own retention and an archive that has not confirmed
 * everything: it deletes nothing it must keep, and the chain still verifies (checkpoints included)
 * after the run and after a later run once the holds are released. Both stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import type { AuditEvent } from '../event/types.js'
import { generateSigningKeyPem, parseSigningKey } from '../integrity/checkpoint.js'
import { verifyChains } from '../integrity/verify.js'
import type { Store } from '../store/store.js'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { ArchiveConfirmations } from './archive-confirmations.js'
import { runCleanup, type CleanupOptions } from './cleanup.js'
import type { LegalHold } from './retention-rules.js'

const DAY = 86_400_000
const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString()
const hasPostgres = await postgresAvailable()

function hold(tenant_id: string, match: Partial<Pick<LegalHold, 'actor_id' | 'resource_type' | 'resource_id'>>): LegalHold {
  return {
    id: uuidv7(),
    tenant_id,
    actor_id: null,
    resource_type: null,
    resource_id: null,
    ...match,
    reason: 'litigation 2026-17',
    created_at: new Date().toISOString(),
    created_by: 'test',
    released_at: null,
    released_by: null,
  }
}

/** An archive that has confirmed fixed seqs per tenant (null for tenants it does not archive). */
const archiveAt = (confirmed: Record<string, number>): ArchiveConfirmations => ({
  confirmedThrough: async (tenant) => confirmed[tenant] ?? null,
})

async function ids(store: Store, tenant: string): Promise<Set<string>> {
  const found = new Set<string>()
  for await (const event of store.stream({ tenant_id: tenant })) found.add(event.id)
  return found
}

async function verifiedWithCheckpoints(store: Store) {
  return verifyChains(store.kind, store.integrity!, { checkpoints: { external: [], publicKeys: [key.publicKey] } })
}

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`retention with holds, tenant rules and an archive (${kind})`, () => {
    let opened: TestStore | undefined
    afterEach(async () => opened?.dispose())

    it('deletes nothing a hold, a tenant rule or the archive keeps, and the chain verifies before and after the holds are released', async () => {
      opened = await freshStore(kind)
      const { store } = opened
      const old = (tenant_id: string, overrides: Partial<AuditEvent> = {}) => storedEvent({ tenant_id, occurred_at: daysAgo(100), actor_id: 'u2', resource_type: 'doc', resource_id: '1', ...overrides })
      // acme: a held actor, a held resource, a hold on an actor's events on one resource, and free events.
      const acme = {
        heldActor: [old('acme', { actor_id: 'alice' }), old('acme', { actor_id: 'alice', resource_id: '9' })],
        heldResource: [old('acme', { resource_type: 'invoice', resource_id: '7' })],
        heldPair: [old('acme', { actor_id: 'bob', resource_type: 'contract', resource_id: '3' })],
        // bob on another resource, and someone else on that contract: neither is held by the pair.
        free: [old('acme'), old('acme', { actor_id: 'bob', resource_type: 'contract', resource_id: '4' }), old('acme', { actor_id: 'carol', resource_type: 'contract', resource_id: '3' })],
        recent: [storedEvent({ tenant_id: 'acme', actor_id: 'u2' })],
      }
      const beta = [old('beta'), old('beta')] // held whole
      const gamma = Array.from({ length: 6 }, () => old('gamma')) // archive confirmed seq 3 only
      const delta = [old('delta'), old('delta')] // own retention: 200 days, so these 100-day-old events stay
      const short = [storedEvent({ tenant_id: 'short', occurred_at: daysAgo(3) }), storedEvent({ tenant_id: 'short', occurred_at: daysAgo(3), action: 'gdpr.consent' })]
      const unarchived = [old('omega')] // archive stream exists for it but confirmed nothing
      await store.insertBatch([...Object.values(acme).flat(), ...beta, ...gamma, ...delta, ...short, ...unarchived])

      const rules = store.retentionRules!
      const holds = [hold('acme', { actor_id: 'alice' }), hold('acme', { resource_type: 'invoice', resource_id: '7' }), hold('acme', { actor_id: 'bob', resource_type: 'contract', resource_id: '3' }), hold('beta', {})]
      for (const h of holds) await rules.createHold(h)
      await rules.setTenantRetention({ tenant_id: 'delta', days: 200, keep_actions: [], updated_at: new Date().toISOString() })
      await rules.setTenantRetention({ tenant_id: 'short', days: 1, keep_actions: ['gdpr.consent'], updated_at: new Date().toISOString() })

      const options: CleanupOptions = {
        cutoff: new Date(Date.now() - 90 * DAY),
        keepActions: [],
        dryRun: false,
        chunkRows: 2,
        defaultTenant: 'default',
        signingKey: key,
        archive: archiveAt({ gamma: 3, omega: 0 }),
      }
      const report = await runCleanup(store, options)
      expect(report.status).toBe('done')
      if (report.status !== 'done') return
      expect(report.skipped.map((s) => [s.tenant_id, s.reason])).toEqual([
        ['beta', 'legal_hold'],
        ['omega', 'archive_behind'],
      ])

      const acmeLeft = await ids(store, 'acme')
      for (const event of [...acme.heldActor, ...acme.heldResource, ...acme.heldPair, ...acme.recent]) expect(acmeLeft.has(event.id)).toBe(true)
      for (const event of acme.free) expect(acmeLeft.has(event.id)).toBe(false)
      expect([...(await ids(store, 'beta'))].filter((id) => beta.some((e) => e.id === id))).toHaveLength(2)
      const gammaLeft = await ids(store, 'gamma')
      expect(gamma.map((e) => gammaLeft.has(e.id))).toEqual([false, false, false, true, true, true])
      const deltaLeft = await ids(store, 'delta')
      expect(delta.every((e) => deltaLeft.has(e.id))).toBe(true)
      const shortLeft = await ids(store, 'short')
      expect(short.map((e) => shortLeft.has(e.id))).toEqual([false, true])
      expect((await ids(store, 'omega')).has(unarchived[0]!.id)).toBe(true)

      const cuts = new Map((await store.integrity!.snapshot((s) => s.cuts())).map((cut) => [cut.tenant_id, cut]))
      expect(cuts.get('acme')?.holds).toHaveLength(3)
      expect(cuts.get('gamma')).toMatchObject({ seq: 3 })
      expect(cuts.get('gamma')?.holds).toBeUndefined()
      expect(cuts.has('beta')).toBe(false)
      expect(await verifiedWithCheckpoints(store)).toMatchObject({ intact: true })

      // Released holds no longer keep anything; the next run's cut says so, and it still verifies.
      for (const h of holds) await rules.releaseHold(h.id, { released_at: new Date().toISOString(), released_by: 'test' })
      expect(await rules.listHolds({ tenant_id: 'acme' })).toEqual([])
      expect(await rules.listHolds({ tenant_id: 'acme', includeReleased: true })).toHaveLength(3)
      const again = await runCleanup(store, { ...options, archive: archiveAt({ gamma: 6, omega: 1 }) })
      expect(again.status).toBe('done')
      const acmeAfter = await ids(store, 'acme')
      for (const event of [...acme.heldActor, ...acme.heldResource, ...acme.heldPair]) expect(acmeAfter.has(event.id)).toBe(false)
      expect(acmeAfter.has(acme.recent[0]!.id)).toBe(true)
      expect([...(await ids(store, 'beta'))].filter((id) => beta.some((e) => e.id === id))).toHaveLength(0)
      expect([...(await ids(store, 'gamma'))].filter((id) => gamma.some((e) => e.id === id))).toHaveLength(0)
      expect((await ids(store, 'omega')).has(unarchived[0]!.id)).toBe(false)
      expect(await verifiedWithCheckpoints(store)).toMatchObject({ intact: true })
    })

    it('a dry run plans the same: held and unarchived tenants are reported as skipped, nothing is deleted', async () => {
      opened = await freshStore(kind)
      const { store } = opened
      const events = [storedEvent({ tenant_id: 'beta', occurred_at: daysAgo(100) }), storedEvent({ tenant_id: 'omega', occurred_at: daysAgo(100) })]
      await store.insertBatch(events)
      await store.retentionRules!.createHold(hold('beta', {}))
      const report = await runCleanup(store, { cutoff: new Date(Date.now() - 90 * DAY), keepActions: [], dryRun: true, chunkRows: 10, defaultTenant: 'default', archive: archiveAt({ omega: 0 }) })
      expect(report).toMatchObject({ status: 'dry_run', total: 0, skipped: [{ tenant_id: 'beta', reason: 'legal_hold' }, { tenant_id: 'omega', reason: 'archive_behind' }] })
      for (const event of events) expect(await store.getById(event.id)).not.toBeNull()
    })
  })
}
