/**
 * The viewer's routes over real HTTP on both stores: minting needs an admin or viewer key bound to
 * the tenant, a token reads only its tenant and only within its restrictions (the browser's
 * filters can narrow, never widen), it is refused on every other endpoint, export needs its
 * permission, CORS answers only allow-listed origins, and rotating the secret ends every token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { StoreKind } from '../../test/support/app.js'
import { createViewerToken } from '../viewer/token.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const SECRET = 'viewer-api-test-secret-0123456789abcdef'
const APP_ORIGIN = 'https://app.example.com'

describe.each(kinds)('viewer routes (%s)', (kind) => {
  let t: KeyedApp
  const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } })
  const ids = async (path: string, token: string) => {
    const response = await get(path, token)
    expect(response.status).toBe(200)
    return ((await response.json()) as { events: Array<{ tenant_id: string; actor_id: string; resource_type: string }> }).events
  }

  beforeAll(async () => {
    t = await startKeyedApp(kind, { viewer: { signingSecret: SECRET, allowedOrigins: [APP_ORIGIN] } })
    const store = t.audit.store
    await store.insertBatch([
      storedEvent({ tenant_id: 'acme', actor_id: 'alice', resource_type: 'document' }),
      storedEvent({ tenant_id: 'acme', actor_id: 'alice', resource_type: 'invoice' }),
      storedEvent({ tenant_id: 'acme', actor_id: 'bob', resource_type: 'document' }),
      storedEvent({ tenant_id: 'acme', actor_id: 'bob', resource_type: 'team' }),
      storedEvent({ tenant_id: 'globex', actor_id: 'alice', resource_type: 'document' }),
    ])
  })
  afterAll(async () => {
    await t?.close()
  })

  it('mints over HTTP with an admin or viewer key, for the key’s own tenant only', async () => {
    const viewerKey = (await t.createKey('acme', ['viewer'])).key
    const readKey = (await t.createKey('acme', ['read'])).key
    const mint = (key: string | undefined, body: unknown) =>
      fetch(`${t.baseUrl}/v1/viewer-tokens`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) })
    const minted = await mint(viewerKey, { tenant_id: 'acme', permissions: ['export'], ttl_seconds: 60 })
    expect(minted.status).toBe(201)
    const { token, expires_at } = (await minted.json()) as { token: string; expires_at: string }
    expect(Date.parse(expires_at) - Date.now()).toBeLessThanOrEqual(60_000)
    expect((await ids('/v1/viewer/events', token)).map((e) => e.tenant_id)).toEqual(['acme', 'acme', 'acme', 'acme'])
    expect((await mint(viewerKey, { tenant_id: 'globex' })).status).toBe(403)
    expect((await mint(readKey, { tenant_id: 'acme' })).status).toBe(403)
    expect((await mint(undefined, { tenant_id: 'acme' })).status).toBe(401)
    const invalid = await mint(viewerKey, { tenant_id: 'acme', ttl_seconds: 7200, extra: 1 })
    expect(invalid.status).toBe(400)
    expect(((await invalid.json()) as { details: Array<{ field: string }> }).details.map((d) => d.field)).toEqual(['extra', 'ttl_seconds'])
    // The viewer scope mints and nothing else.
    expect((await get('/v1/events', viewerKey)).status).toBe(403)
  })

  it('bounds every read to the token’s tenant, whatever the query says', async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
    expect((await get('/v1/viewer/events?tenant_id=globex', token)).status).toBe(403)
    expect((await ids('/v1/viewer/events?tenant_id=acme', token)).length).toBe(4)
    const globexEvent = (await t.audit.store.query({ tenant_id: 'globex' }, { limit: 1 })).events[0]!
    expect((await get(`/v1/viewer/events/${globexEvent.id}`, token)).status).toBe(404)
    // A page's cursor only positions: paging on past it never leaves the tenant.
    const first = (await (await get('/v1/viewer/events?limit=1', token)).json()) as { next_cursor: string }
    const rest = (await (await get(`/v1/viewer/events?limit=100&cursor=${encodeURIComponent(first.next_cursor)}`, token)).json()) as { events: Array<{ tenant_id: string }> }
    expect(rest.events.map((e) => e.tenant_id)).toEqual(['acme', 'acme', 'acme'])
  })

  it('ANDs restrictions into the browser’s filters: they narrow, never widen', async () => {
    const { token: alice } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', restrictions: { actor_id: 'alice' } })
    expect((await ids('/v1/viewer/events', alice)).map((e) => e.actor_id)).toEqual(['alice', 'alice'])
    expect(await ids('/v1/viewer/events?actor_id=bob', alice)).toEqual([])
    const bobsEvent = (await t.audit.store.query({ tenant_id: 'acme', actor_id: 'bob' }, { limit: 1 })).events[0]!
    expect((await get(`/v1/viewer/events/${bobsEvent.id}`, alice)).status).toBe(404)

    const { token: docs } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', restrictions: { resource_types: ['document', 'invoice'] } })
    expect((await ids('/v1/viewer/events', docs)).map((e) => e.resource_type).sort()).toEqual(['document', 'document', 'invoice'])
    expect(await ids('/v1/viewer/events?resource_type=team', docs)).toEqual([])
    expect((await ids('/v1/viewer/events?resource_type=invoice', docs)).map((e) => e.resource_type)).toEqual(['invoice'])
  })

  it('exports CSV only with the export permission, within the same bounds', async () => {
    const { token: readOnly } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
    expect((await get('/v1/viewer/export', readOnly)).status).toBe(403)
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', permissions: ['export'], restrictions: { actor_id: 'bob' } })
    const csv = await (await get('/v1/viewer/export', token)).text()
    const lines = csv.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines.slice(1).every((line) => line.includes(',acme,') && line.includes(',bob,'))).toBe(true)
  })

  it('is accepted by the viewer routes only, and an API key is not accepted by them', async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', permissions: ['export'] })
    for (const path of ['/v1/events', '/v1/events/export', '/v1/reports?period=daily', '/v1/integrity', '/api/v1/monitoring/history']) {
      expect((await get(path, token)).status, path).toBe(401)
    }
    const readKey = (await t.createKey('acme', ['read', 'admin'])).key
    const refused = await get('/v1/viewer/events', readKey)
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { code: string }).code).toBe('AUDITQ_VIEWER_TOKEN_INVALID')
  })

  it('tells an expired token apart from an invalid one', async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', now: new Date(Date.now() - 3_600_000), ttl_seconds: 60 })
    const expired = await get('/v1/viewer/events', token)
    expect(expired.status).toBe(401)
    expect(((await expired.json()) as { code: string }).code).toBe('AUDITQ_VIEWER_TOKEN_EXPIRED')
    const missing = await get('/v1/viewer/session')
    expect(((await missing.json()) as { code: string }).code).toBe('AUDITQ_VIEWER_TOKEN_INVALID')
  })

  it('answers CORS to allow-listed origins only, errors included, and never with *', async () => {
    const preflight = await fetch(`${t.baseUrl}/v1/viewer/events`, { method: 'OPTIONS', headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization')
    const refused = await get('/v1/viewer/events', 'nonsense', { origin: APP_ORIGIN })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN)
    const stranger = await get('/viewer.js', undefined, { origin: 'https://evil.example' })
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull()
    const page = await get('/viewer')
    expect(page.headers.get('content-security-policy')).toContain(`frame-ancestors 'self' ${APP_ORIGIN}`)
  })
})

describe('viewer without a signing secret, and after rotation', () => {
  it('answers 404 AUDITQ_VIEWER_DISABLED when off, and refuses tokens of the previous secret', async () => {
    const off = await startKeyedApp('embedded')
    try {
      const response = await fetch(`${off.baseUrl}/v1/viewer/session`)
      expect(response.status).toBe(404)
      expect(((await response.json()) as { code: string }).code).toBe('AUDITQ_VIEWER_DISABLED')
    } finally {
      await off.close()
    }
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
    const rotated = await startKeyedApp('embedded', { viewer: { signingSecret: 'the-new-secret-after-rotation-0123456789' } })
    try {
      const response = await fetch(`${rotated.baseUrl}/v1/viewer/session`, { headers: { authorization: `Bearer ${token}` } })
      expect(response.status).toBe(401)
      expect(((await response.json()) as { code: string }).code).toBe('AUDITQ_VIEWER_TOKEN_INVALID')
    } finally {
      await rotated.close()
    }
  })
})
