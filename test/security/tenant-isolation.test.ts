/**
 * Two tenants, each with its own keys, over real HTTP: neither can see or infer the other's
 * events through any endpoint, filter, cursor or id. New read endpoints (reports, integrity,
 * dashboard data) join with one line in PROBES.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoreKind } from '../support/app.js'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'
import { postgresAvailable } from '../support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

interface TenantFixture {
  tenant: string
  readKey: string
  ingestKey: string
  adminKey: string
  ids: string[]
  actor: string
  /** A string only this tenant's events contain (in metadata). */
  marker: string
  /** A cursor from a page of this tenant's own listing. */
  cursor: string
}

interface Probe {
  name: string
  /** Path for `self` asking about `other`. */
  path: (other: TenantFixture, self: TenantFixture) => string
  /** 'own': 200 with only self's events; 'refused': 403/404 that looks the same as for a tenant that does not exist. */
  expect: 'own' | 'refused' | 'not-found'
}

const PROBES: Probe[] = [
  { name: 'list', path: () => '/v1/events?limit=1000', expect: 'own' },
  { name: 'list filtered by the other tenant', path: (other) => `/v1/events?tenant_id=${other.tenant}`, expect: 'refused' },
  { name: "list filtered by the other tenant's actor", path: (other) => `/v1/events?actor_id=${other.actor}`, expect: 'own' },
  { name: "list continuing the other tenant's cursor", path: (other) => `/v1/events?limit=1000&cursor=${other.cursor}`, expect: 'own' },
  { name: "list with the other tenant's cursor and actor", path: (other) => `/v1/events?actor_id=${other.actor}&cursor=${other.cursor}`, expect: 'own' },
  { name: "get the other tenant's event by id", path: (other) => `/v1/events/${other.ids[0]}`, expect: 'not-found' },
  { name: 'export ndjson', path: () => '/v1/events/export?format=ndjson', expect: 'own' },
  { name: 'export csv', path: () => '/v1/events/export?format=csv', expect: 'own' },
  { name: 'export filtered by the other tenant', path: (other) => `/v1/events/export?tenant_id=${other.tenant}`, expect: 'refused' },
  { name: "export filtered by the other tenant's actor", path: (other) => `/v1/events/export?format=csv&actor_id=${other.actor}`, expect: 'own' },
  { name: 'health (read key: status only)', path: () => '/api/v1/monitoring/health', expect: 'own' },
  { name: 'report (JSON)', path: () => '/v1/reports?from=2025-01-01&to=2025-02-01', expect: 'own' },
  { name: "report filtered by the other tenant's actor", path: () => '/v1/reports?period=monthly&date=2025-01-15&top=100', expect: 'own' },
  { name: 'report for the other tenant', path: (other) => `/v1/reports?period=monthly&date=2025-01-15&tenant_id=${other.tenant}`, expect: 'refused' },
  { name: 'integrity verify', path: () => '/v1/integrity', expect: 'own' },
  { name: 'integrity verify of the other tenant', path: (other) => `/v1/integrity?tenant_id=${other.tenant}`, expect: 'refused' },
  { name: 'feed', path: () => '/v1/feed?limit=1000', expect: 'own' },
  { name: 'feed as OCSF', path: () => '/v1/feed?limit=1000&format=ocsf', expect: 'own' },
  { name: 'feed of the other tenant', path: (other) => `/v1/feed?tenant_id=${other.tenant}`, expect: 'refused' },
  // The dashboard reads events through /v1/events (above); its monitoring figures need `admin`.
]

async function get(app: KeyedApp, path: string, key: string): Promise<{ status: number; text: string; contentType: string }> {
  const response = await fetch(app.baseUrl + path, { headers: { authorization: `Bearer ${key}` } })
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') ?? '' }
}

async function post(app: KeyedApp, body: unknown, key: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${app.baseUrl}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

/** Tenants of the events in a 200 body: JSON page, single event, NDJSON or CSV. */
function tenantsIn(text: string, contentType: string): string[] {
  if (contentType.startsWith('text/csv')) return text.trim().split('\r\n').slice(1).map((row) => row.split(',')[1]!)
  if (contentType.startsWith('application/x-ndjson')) return text.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { tenant_id: string }).tenant_id)
  const body = JSON.parse(text) as { events?: Array<{ tenant_id?: string; event?: { tenant_id: string }; unmapped?: { auditq: { tenant_id: string } } }>; tenant_id?: string }
  // A query page holds events; a feed page {event, seq, hash, cursor} items or OCSF events.
  if (Array.isArray(body.events)) return body.events.map((item) => item.tenant_id ?? item.event?.tenant_id ?? item.unmapped?.auditq.tenant_id ?? '(no tenant)')
  return body.tenant_id === undefined ? [] : [body.tenant_id]
}

describe.each(kinds)('tenant isolation over HTTP (%s store)', (kind) => {
  let app: KeyedApp
  const fixtures: TenantFixture[] = []

  beforeAll(async () => {
    app = await startKeyedApp(kind)
    for (const tenant of ['acme', 'globex']) {
      const ingestKey = (await app.createKey(tenant, ['ingest'])).key
      const readKey = (await app.createKey(tenant, ['read'])).key
      const adminKey = (await app.createKey(tenant, ['ingest', 'read', 'admin'])).key
      const actor = `${tenant}-user`
      const marker = `${tenant}-secret-marker`
      // No tenant_id in the body: the key's tenant is stamped on each event.
      const events = Array.from({ length: 12 }, (_, i) => ({ action: 'doc.viewed', actor_id: actor, occurred_at: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(), metadata: { note: marker } }))
      const stored = await post(app, { events }, ingestKey)
      expect(stored.status).toBe(202)
      const page = JSON.parse((await get(app, '/v1/events?limit=5', readKey)).text) as { next_cursor: string }
      fixtures.push({ tenant, readKey, ingestKey, adminKey, ids: stored.json.ids as string[], actor, marker, cursor: page.next_cursor })
    }
  })
  afterAll(async () => app?.close())

  for (const probe of PROBES) {
    it(`${probe.name}: each tenant sees only its own events and nothing of the other`, async () => {
      for (const [self, other] of [[fixtures[0]!, fixtures[1]!], [fixtures[1]!, fixtures[0]!]] as const) {
        const path = probe.path(other, self)
        const response = await get(app, path, self.readKey)
        // Nothing of the other tenant anywhere in the body (ids, actor, metadata) beyond what the caller itself sent.
        for (const secret of [...other.ids, other.actor, other.marker]) if (!path.includes(secret)) expect(response.text).not.toContain(secret)
        if (probe.expect === 'own') {
          expect(response.status, response.text).toBe(200)
          for (const tenant of tenantsIn(response.text, response.contentType)) expect(tenant).toBe(self.tenant)
        } else {
          // The answer for the other tenant is the answer for a tenant (or id) that does not exist.
          const nobody: TenantFixture = { ...other, tenant: 'no-such-tenant', ids: ['01900000-0000-7000-8000-000000000000'] }
          const control = await get(app, probe.path(nobody, self), self.readKey)
          expect(response.status).toBe(probe.expect === 'refused' ? 403 : 404)
          expect(control.status).toBe(response.status)
          const code = (text: string) => (JSON.parse(text) as { code: string }).code
          expect(code(response.text)).toBe(code(control.text))
        }
      }
    })
  }

  it('lists exactly its own events, all of them, through every page', async () => {
    for (const self of fixtures) {
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const page = JSON.parse((await get(app, `/v1/events?limit=5${cursor ? `&cursor=${cursor}` : ''}`, self.readKey)).text) as { events: { id: string }[]; next_cursor: string | null }
        seen.push(...page.events.map((event) => event.id))
        cursor = page.next_cursor
      } while (cursor)
      expect(seen.sort()).toEqual([...self.ids].sort())
    }
  })

  it("refuses an event naming another tenant (tenant_mismatch), stores the rest under the key's tenant", async () => {
    const [acme, globex] = fixtures as [TenantFixture, TenantFixture]
    const response = await post(app, { events: [{ action: 'sneak.in', tenant_id: globex.tenant }, { action: 'honest.write' }, { action: 'own.named', tenant_id: acme.tenant }] }, acme.ingestKey)
    expect(response.status).toBe(202)
    expect(response.json.rejected).toEqual([{ index: 0, errors: [{ field: 'tenant_id', rule: 'tenant_mismatch', message: expect.stringContaining('acme') }] }])
    expect(response.json.accepted).toBe(2)
    const globexActions = tenantsAndActions(JSON.parse((await get(app, '/v1/events?limit=1000', globex.readKey)).text))
    expect(globexActions.map((e) => e.action)).not.toContain('sneak.in')
    const acmeActions = tenantsAndActions(JSON.parse((await get(app, '/v1/events?action=honest.write', acme.readKey)).text))
    expect(acmeActions).toEqual([{ tenant_id: 'acme', action: 'honest.write' }])
    expect(app.audit.stats().tenantMismatches).toBe(1)
  })

  it('enforces scopes: 401 without a valid key, 403 without the scope, health details for admins only', async () => {
    const [acme] = fixtures as [TenantFixture]
    const before = app.app.securityStats()
    expect((await fetch(`${app.baseUrl}/v1/events`)).status).toBe(401)
    expect((await get(app, '/v1/events', 'aq_0000000000000000_' + 'A'.repeat(43))).status).toBe(401)
    expect((await get(app, '/v1/events', acme.readKey.slice(0, -1) + (acme.readKey.endsWith('A') ? 'B' : 'A'))).status).toBe(401)
    expect((await fetch(`${app.baseUrl}/v1/events`, { headers: { authorization: acme.readKey } })).status).toBe(401) // no "Bearer"
    expect((await get(app, '/v1/events', acme.ingestKey)).status).toBe(403)
    expect((await post(app, { action: 'x' }, acme.readKey)).status).toBe(403)
    const anonymous = (await (await fetch(`${app.baseUrl}/api/v1/monitoring/health`)).json()) as Record<string, unknown>
    // Everyone gets the public shape (status and which services are up), no figures.
    expect(Object.keys(anonymous).sort()).toEqual(['services', 'status', 'timestamp'])
    const reader = JSON.parse((await get(app, '/api/v1/monitoring/health', acme.readKey)).text) as Record<string, unknown>
    expect(Object.keys(reader).sort()).toEqual(['services', 'status', 'timestamp'])
    const admin = JSON.parse((await get(app, '/api/v1/monitoring/health', acme.adminKey)).text) as Record<string, unknown>
    expect(admin).toHaveProperty('pipeline')
    expect(admin).toHaveProperty('issues')
    // Every refusal is counted for metrics.
    const after = app.app.securityStats()
    expect(after.unauthorized - before.unauthorized).toBe(4)
    expect(after.forbidden - before.forbidden).toBe(2)
  })

  it('stops accepting a revoked key (cache TTL 0 here; the default is 10 s)', async () => {
    const { key, id } = await app.createKey('acme', ['read'])
    expect((await get(app, '/v1/events?limit=1', key)).status).toBe(200)
    expect(await app.keys.revoke(id, new Date())).toBe(true)
    expect((await get(app, '/v1/events?limit=1', key)).status).toBe(401)
  })

  it('never writes a key, or any part of its secret, to the log', async () => {
    const [acme] = fixtures as [TenantFixture]
    const secrets = fixtures.flatMap((f) => [f.readKey, f.ingestKey, f.adminKey]).map((key) => key.slice(20))
    // Failure paths too: wrong secret, key in a query string, key as a body field.
    await get(app, `/v1/events?api_key=${acme.readKey}`, acme.readKey.slice(0, -2) + 'xx')
    await post(app, { action: 'a', metadata: { api_key: acme.adminKey } }, acme.ingestKey)
    await fetch(`${app.baseUrl}/v1/events`, { headers: { authorization: `Bearer ${acme.adminKey} extra` } })
    const log = app.logText()
    expect(log.length).toBeGreaterThan(1000) // the capture works: request lines are there
    for (const secret of secrets) expect(log).not.toContain(secret.slice(0, 16))
    // The metadata api_key was redacted before storage, so it is not in the store either.
    const stored = (await get(app, '/v1/events/export?format=ndjson', acme.adminKey)).text
    expect(stored).not.toContain(acme.adminKey)
    expect(stored).toContain('[REDACTED]')
  })
})

function tenantsAndActions(body: { events: { tenant_id: string; action: string }[] }): { tenant_id: string; action: string }[] {
  return body.events.map(({ tenant_id, action }) => ({ tenant_id, action }))
}
