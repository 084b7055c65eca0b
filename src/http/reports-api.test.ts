import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { buildReport } from '../report/model.js'
import { resolvePeriod } from '../report/period.js'
import { createAuditLogger, type AuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { HOSTILE } from '../../test/support/report-fixture.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { generateEvents } from '../../test/support/report-dataset.js'
import { expectedReport } from '../../test/support/report-oracle.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { Principal, Scope } from '../auth/principal.js'
import { buildServer } from './server.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

/** Test principals from headers, standing in for API keys: `x-test-tenant` binds one tenant, `x-test-scopes` lists scopes. */
function headerPrincipal(request: { headers: Record<string, unknown> }): Principal {
  const tenant = request.headers['x-test-tenant']
  const scopes = String(request.headers['x-test-scopes'] ?? 'ingest,read,admin').split(',') as Scope[]
  return { keyId: 'test', tenantId: typeof tenant === 'string' ? tenant : null, scopes: new Set(scopes) }
}

describe.each(kinds)('GET /v1/reports over the %s store', (kind) => {
  let t: TestStore
  let audit: AuditLogger
  let app: FastifyInstance
  const events = generateEvents(2_000, 7)
  const hostile = storedEvent({
    occurred_at: '2026-11-26T10:00:00.000Z',
    received_at: '2026-11-26T10:00:00.000Z',
    tenant_id: 'globex',
    actor_id: HOSTILE.script,
    action: 'hostile.action',
    resource_type: HOSTILE.attribute,
    success: false,
    error_message: HOSTILE.formula,
  })

  beforeAll(async () => {
    t = await freshStore(kind)
    await t.store.insertBatch([...events, hostile])
    const logger = createLogger({ level: 'silent' })
    audit = await createAuditLogger({ store: t.store, logger })
    app = await buildServer({ config: loadConfig({ logLevel: 'silent' }), audit, logger, resolvePrincipal: headerPrincipal })
  })
  afterAll(async () => {
    await app.close()
    await audit.close()
    await t.dispose()
  })

  it('answers a monthly report whose every figure matches the independent count', async () => {
    const response = await app.inject('/v1/reports?period=monthly&date=2026-11-15&top=5')
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    const body = response.json()
    const period = resolvePeriod({ kind: 'monthly', date: '2026-11-15' }, new Date())
    const filter = { from: period.from, to: period.to }
    const data = expectedReport([...events, hostile], filter, { topN: 5, topErrors: 5, bucket: 'day' })
    const expected = buildReport({ period, data, tenantId: undefined, topN: 5, generatedAt: new Date(body.generated_at) })
    expect(body).toEqual(expected)
    expect(body.timeline).toHaveLength(30)
    expect(body.summary.total).toBeGreaterThan(500)
  })

  it('answers a from/to range and one tenant', async () => {
    const from = '2026-11-29T00:00:00.000Z'
    const to = '2026-12-02T00:00:00.000Z'
    const body = (await app.inject(`/v1/reports?from=${from}&to=${to}&tenant_id=acme`)).json()
    const data = expectedReport(events, { from, to, tenant_id: 'acme' }, { topN: 10, topErrors: 5, bucket: 'day' })
    expect(body).toMatchObject({ period: { kind: 'custom', from, to, bucket: 'day' }, tenant_id: 'acme', summary: { total: data.total, failures: data.failures } })
    expect(body.top_actors).toEqual(data.top_actors)
  })

  it('CSV neutralizes formulas and downloads as a file', async () => {
    const response = await app.inject('/v1/reports?period=daily&date=2026-11-26&format=csv&tenant_id=globex')
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(response.headers['content-disposition']).toBe('attachment; filename="auditq-report-daily-2026-11-26.csv"')
    expect(response.body).toContain(`failure_error,hostile.action,"'=HYPERLINK(""http://evil.example"",""open"")",1`)
    expect(response.body).not.toMatch(/(^|,)"?[=+\-@]/m)
  })

  it('HTML escapes stored strings and forbids scripts by policy as well', async () => {
    const response = await app.inject('/v1/reports?period=daily&date=2026-11-26&format=html&tenant_id=globex')
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.headers['content-security-policy']).toMatch(/default-src 'none'/)
    expect(response.headers['x-content-type-options']).toBe('nosniff')
    expect(response.body).toContain('&lt;script&gt;window.__pwned = &quot;script&quot;&lt;/script&gt;')
    expect(response.body).not.toMatch(/<(script|img)/i)
  })

  it('refuses bad parameters with 400 naming each one', async () => {
    const cases: [string, string[]][] = [
      ['/v1/reports?period=daily&actor_id=u1', ['actor_id']],
      ['/v1/reports?period=hourly', ['period']],
      ['/v1/reports?period=daily&from=2026-11-01', ['from']],
      ['/v1/reports?period=daily&top=1000', ['top']],
      ['/v1/reports?period=daily&date=2026-02-30', ['date']],
      ['/v1/reports?from=2026-11-02&to=2026-11-01', ['to']],
      ['/v1/reports?period=daily&format=table', ['format']],
      ['/v1/reports', ['period']],
    ]
    for (const [url, fields] of cases) {
      const response = await app.inject(url)
      expect(response.statusCode, url).toBe(400)
      expect(response.json().code).toBe('AUDITQ_BAD_REQUEST')
      expect(response.json().details.map((d: { field: string }) => d.field), url).toEqual(fields)
    }
  })

  it('bounds a tenant-bound key to its tenant and refuses another tenant or a missing scope', async () => {
    const url = '/v1/reports?period=monthly&date=2026-11-01'
    const own = (await app.inject({ url, headers: { 'x-test-tenant': 'initech' } })).json()
    const period = resolvePeriod({ kind: 'monthly', date: '2026-11-01' }, new Date())
    const expected = expectedReport(events, { from: period.from, to: period.to, tenant_id: 'initech' }, { topN: 10, topErrors: 5, bucket: 'day' })
    expect(own).toMatchObject({ tenant_id: 'initech', summary: { total: expected.total } })
    const other = await app.inject({ url: `${url}&tenant_id=acme`, headers: { 'x-test-tenant': 'initech' } })
    expect(other.statusCode).toBe(403)
    expect(other.json().code).toBe('AUDITQ_FORBIDDEN')
    const ingestOnly = await app.inject({ url, headers: { 'x-test-scopes': 'ingest' } })
    expect(ingestOnly.statusCode).toBe(403)
  })
})

describe('GET /v1/reports when the store is down', () => {
  it('answers 503 AUDITQ_STORE_UNAVAILABLE, not 500', async () => {
    const store = new MemoryStore()
    const logger = createLogger({ level: 'silent' })
    const audit = await createAuditLogger({ store, logger })
    const app = await buildServer({ config: loadConfig({ logLevel: 'silent' }), audit, logger })
    try {
      expect((await app.inject('/v1/reports?period=daily')).statusCode).toBe(200)
      store.down = true
      const response = await app.inject('/v1/reports?period=daily')
      expect(response.statusCode).toBe(503)
      expect(response.json().code).toBe('AUDITQ_STORE_UNAVAILABLE')
    } finally {
      store.down = false
      await app.close()
      await audit.close()
    }
  })
})

describe('GET /v1/reports limits reports per tenant and per process', () => {
  it("answers 429 only for the caller's own tenant's reports, and a neutral 503 when other tenants hold every slot", async () => {
    const store = new MemoryStore()
    const logger = createLogger({ level: 'silent' })
    const audit = await createAuditLogger({ store, logger })
    const config = loadConfig({ logLevel: 'silent', reports: { maxConcurrent: 2, maxPerTenant: 1 } })
    const app = await buildServer({ config, audit, logger, resolvePrincipal: headerPrincipal })
    const original = store.report.bind(store)
    const held: Array<() => void> = []
    let entered!: () => void
    let inside = new Promise<void>((resolve) => (entered = resolve))
    // Each report waits inside the store until the test lets it go.
    store.report = async (...args: Parameters<typeof original>) => {
      const gate = new Promise<void>((resolve) => held.push(resolve))
      entered()
      await gate
      return original(...args)
    }
    const as = (tenant: string, period: string) => app.inject({ url: `/v1/reports?period=${period}`, headers: { 'x-test-tenant': tenant, 'x-test-scopes': 'read' } })
    try {
      const first = as('acme', 'daily')
      await inside
      // acme's second report: refused for acme's own use, saying so.
      const again = await as('acme', 'weekly')
      expect(again.statusCode).toBe(429)
      expect(again.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', message: expect.stringContaining('"acme" already has 1 running') })
      expect(again.headers['retry-after']).toBe('2')
      // Another tenant is not held back by acme.
      inside = new Promise<void>((resolve) => (entered = resolve))
      const second = as('globex', 'weekly')
      await inside
      // A third tenant finds the process full: 503, naming neither the tenants nor how many run.
      const third = await as('initech', 'monthly')
      expect(third.statusCode).toBe(503)
      expect(third.json()).toMatchObject({ code: 'AUDITQ_BUSY' })
      expect(third.json().message).not.toMatch(/acme|globex|\d+ running/)
      expect(third.headers['retry-after']).toBe('2')

      held.shift()!()
      expect((await first).statusCode).toBe(200)
      store.report = original
      expect((await as('initech', 'monthly')).statusCode).toBe(200)
      expect((await as('acme', 'monthly')).statusCode).toBe(200)
      held.shift()!()
      expect((await second).statusCode).toBe(200)
    } finally {
      for (const release of held) release()
      await app.close()
      await audit.close()
    }
  })
})
