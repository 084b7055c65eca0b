import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()

for (const kind of ['embedded', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`GET /v1/integrity (${kind})`, () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startApp(kind)
      const events = Array.from({ length: 12 }, (_, i) => ({ action: 'doc.view', tenant_id: i % 3 === 0 ? 'globex' : 'acme' }))
      const ingest = await app.app.inject({ method: 'POST', url: '/v1/events', payload: events })
      expect(ingest.statusCode).toBeLessThan(300)
    })
    afterAll(() => app.close())

    it('reports every tenant intact with its head, from one snapshot', async () => {
      const response = await app.app.inject({ url: '/v1/integrity' })
      expect(response.statusCode).toBe(200)
      const report = response.json()
      expect(report).toMatchObject({ intact: true, events: 12, snapshot: expect.any(String) })
      expect(report.tenants.map((t: { tenant_id: string; events: number }) => [t.tenant_id, t.events])).toEqual([
        ['acme', 8],
        ['globex', 4],
      ])
      expect(report.tenants[0].head).toMatchObject({ seq: 8, hash: expect.stringMatching(/^[0-9a-f]{64}$/) })
    })

    it('verifies one tenant and a sequence range', async () => {
      const response = await app.app.inject({ url: '/v1/integrity?tenant_id=acme&from=3&to=5' })
      expect(response.json()).toMatchObject({ intact: true, events: 3, tenants: [{ tenant_id: 'acme' }] })
    })

    it('refuses a range that is not a sequence number', async () => {
      const response = await app.app.inject({ url: '/v1/integrity?from=yesterday' })
      expect(response.statusCode).toBe(400)
      expect(response.json()).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [{ field: 'from', rule: 'seq' }] })
    })
  })
}
