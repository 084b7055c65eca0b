/**
 * Legal holds and tenants' own retention over HTTP: admin keys manage their own tenant only, bad
 * input names its field, and every change lands in the access trail. Real keys, both stores.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { StoreKind } from '../../test/support/app.js'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`holds and tenant retention over HTTP (${kind})`, () => {
    let service: KeyedApp | undefined
    afterEach(async () => service?.close())

    it('creates, lists and releases holds of the key\'s tenant, sets its retention, and records each change', async () => {
      service = await startKeyedApp(kind, { logLevel: 'silent' })
      const admin = await service.createKey('acme', ['admin'], 'legal')
      const reader = await service.createKey('acme', ['read'])
      const call = async (method: string, path: string, key: string, body?: unknown) => {
        const response = await fetch(`${service!.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        const text = await response.text()
        return { status: response.status, body: text ? JSON.parse(text) : undefined }
      }

      const created = await call('POST', '/v1/holds', admin.key, { actor_id: 'alice', resource: 'invoice:2026:7', reason: 'case 17' })
      expect(created.status).toBe(201)
      expect(created.body).toMatchObject({ tenant_id: 'acme', actor_id: 'alice', resource_type: 'invoice', resource_id: '2026:7', reason: 'case 17', created_by: admin.id, released_at: null })
      expect((await call('POST', '/v1/holds', admin.key, { tenant_id: 'globex', reason: 'x' })).status).toBe(403)
      expect((await call('POST', '/v1/holds', reader.key, { reason: 'x' })).status).toBe(403)
      const badResource = await call('POST', '/v1/holds', admin.key, { resource: 'invoice', reason: 'x' })
      expect(badResource).toMatchObject({ status: 400, body: { code: 'AUDITQ_BAD_REQUEST', details: [{ field: 'resource', rule: 'type_and_id' }] } })
      expect((await call('POST', '/v1/holds', admin.key, { actor_id: 'bob' })).body).toMatchObject({ details: [{ field: 'reason', rule: 'required' }] })

      expect((await call('GET', '/v1/holds', admin.key)).body.holds.map((h: { id: string }) => h.id)).toEqual([created.body.id])
      const released = await call('POST', `/v1/holds/${created.body.id}/release`, admin.key, { reason: 'case closed' })
      expect(released).toMatchObject({ status: 200, body: { released_by: admin.id, released_at: expect.any(String) } })
      expect((await call('GET', '/v1/holds', admin.key)).body.holds).toEqual([])
      expect((await call('GET', '/v1/holds?include_released=true', admin.key)).body.holds).toHaveLength(1)
      expect((await call('POST', '/v1/holds/nope/release', admin.key, {})).status).toBe(404)

      expect((await call('PUT', '/v1/retention/tenants/acme', admin.key, { days: 400, keep_actions: ['gdpr.consent'] })).body).toMatchObject({ tenant_id: 'acme', days: 400, keep_actions: ['gdpr.consent'] })
      expect((await call('PUT', '/v1/retention/tenants/acme', admin.key, { days: 0 })).body).toMatchObject({ details: [{ field: 'days', rule: 'range' }] })
      expect((await call('PUT', '/v1/retention/tenants/globex', admin.key, { days: 30 })).status).toBe(403)
      expect((await call('GET', '/v1/retention/tenants', admin.key)).body.tenants).toEqual([expect.objectContaining({ tenant_id: 'acme', days: 400 })])
      expect((await call('DELETE', '/v1/retention/tenants/acme', admin.key)).status).toBe(204)
      expect((await call('DELETE', '/v1/retention/tenants/acme', admin.key)).status).toBe(404)

      const { events } = await service.audit.store.query({ tenant_id: 'auditq' }, { limit: 50 })
      const changes = events.filter((event) => event.action !== 'auditq.query').reverse()
      expect(changes.map((event) => event.action)).toEqual([
        'auditq.hold.create',
        'auditq.hold.release',
        'auditq.retention.tenant_rule',
        'auditq.retention.tenant_rule',
        'auditq.retention.tenant_rule',
      ])
      expect(changes[0]).toMatchObject({ actor_id: admin.id, resource_id: 'acme', metadata: { key_name: 'legal', what: { hold_id: created.body.id, actor_id: 'alice', resource: 'invoice:2026:7', reason: 'case 17' } } })
      expect(changes[1]!.metadata).toMatchObject({ what: { release_reason: 'case closed' } })
    })
  })
}
