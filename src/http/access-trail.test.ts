/**
 * Reads over HTTP are recorded in the trail before they are answered: who (key id and name), what
 * (the filter), which tenant, from where. Nobody can write an `auditq.*` event, and a read whose
 * record cannot be stored is refused. Real service, real keys, both stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { StoreKind } from '../../test/support/app.js'

const hasPostgres = await postgresAvailable()

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`access to the trail over HTTP (${kind})`, () => {
    let service: KeyedApp | undefined
    afterEach(async () => service?.close())

    it("records each read with key id and name, filter and address in the system tenant's chain, and refuses forged auditq.* events", async () => {
      service = await startKeyedApp(kind, { logLevel: 'silent' })
      const reader = await service.createKey('acme', ['read'], 'compliance dashboard')
      const writer = await service.createKey('acme', ['ingest'], 'app')
      const auth = (key: string) => ({ authorization: `Bearer ${key}` })
      const forged = await fetch(`${service.baseUrl}/v1/events`, { method: 'POST', headers: { ...auth(writer.key), 'content-type': 'application/json' }, body: JSON.stringify({ action: 'auditq.query' }) })
      expect(forged.status).toBe(400)
      expect(await forged.json()).toMatchObject({ details: { rejected: [{ errors: [{ field: 'action', rule: 'reserved' }] }] } })

      const leaked = await fetch(`${service.baseUrl}/v1/events?action=user.logout&api_key=${reader.key}`, { headers: auth(reader.key) })
      // Refused (an unknown parameter), yet recorded: attempts to read are access too.
      expect(leaked.status).toBe(400)
      for (const path of ['/v1/events?action=user.login&limit=5', '/v1/events?action=user.login&limit=10', '/v1/events/export?format=ndjson', '/v1/reports?period=daily&date=2026-06-01', '/v1/integrity']) {
        const response = await fetch(`${service.baseUrl}${path}`, { headers: auth(reader.key) })
        expect(response.status, path).toBe(200)
        await response.arrayBuffer()
      }
      const { events } = await service.audit.store.query({ tenant_id: 'auditq' }, { limit: 50 })
      // The tenant's own chain holds only its own events.
      expect((await service.audit.store.query({ tenant_id: 'acme' }, { limit: 50 })).events).toEqual([])
      const trail = events.filter((event) => event.action.startsWith('auditq.')).reverse()
      // The second query differs only in its page size: the same access, folded into the first's window.
      expect(trail.map((event) => event.action)).toEqual(['auditq.query', 'auditq.query', 'auditq.export', 'auditq.report', 'auditq.integrity.verify'])
      // A key sent in the URL is never written into the trail.
      expect(trail[0]!.metadata).toEqual({ key_name: 'compliance dashboard', what: { action: 'user.logout', api_key: '[REDACTED]' } })
      expect(JSON.stringify(trail)).not.toContain(reader.key.slice(-20))
      expect(trail[1]).toMatchObject({
        tenant_id: 'auditq',
        actor_id: reader.id,
        actor_type: 'api_key',
        ip_address: '127.0.0.1',
        resource_type: 'audit_trail',
        resource_id: 'acme',
        metadata: { key_name: 'compliance dashboard', what: { action: 'user.login' } },
      })
      expect(trail[3]!.metadata).toMatchObject({ what: { period: 'daily', date: '2026-06-01' } })
    })

    it('refuses a read whose record the store refuses, and answers it once recording works again', async () => {
      service = await startKeyedApp(kind, { logLevel: 'silent', access: { aggregateWindowMs: 0 } })
      const reader = await service.createKey('acme', ['read'])
      const store = service.audit.store
      const insertBatch = store.insertBatch.bind(store)
      store.insertBatch = async () => {
        throw new Error('injected: the store refused the row')
      }
      const refused = await fetch(`${service.baseUrl}/v1/events`, { headers: { authorization: `Bearer ${reader.key}` } })
      expect(refused.status).toBe(503)
      expect(await refused.json()).toMatchObject({ code: 'AUDITQ_ACCESS_UNRECORDED' })
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
      store.insertBatch = insertBatch
      const answered = await fetch(`${service.baseUrl}/v1/events`, { headers: { authorization: `Bearer ${reader.key}` } })
      expect(answered.status).toBe(200)
    })
  })
}
