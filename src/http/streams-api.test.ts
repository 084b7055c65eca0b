/**
 * The stream API over real HTTP with API keys: a tenant's key manages only its own streams, which
 * are bound to its events; an admin key sees every stream; bad definitions name the field; secrets
 * never come back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../test/support/keyed-app.js'

describe('stream API', () => {
  let service: KeyedApp
  let acme: string
  let globex: string
  let admin: string
  let ingestOnly: string

  beforeAll(async () => {
    service = await startKeyedApp('embedded')
    acme = (await service.createKey('acme', ['read'])).key
    globex = (await service.createKey('globex', ['read'])).key
    admin = (await service.createKey('ops', ['read', 'admin'])).key
    ingestOnly = (await service.createKey('acme', ['ingest'])).key
  })
  afterAll(async () => {
    await service.close()
  })

  const call = async (key: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${service.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await response.text()
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : null }
  }
  const webhook = (name: string, extra: Record<string, unknown> = {}) => ({ name, sink: 'webhook', url: 'https://siem.example/ingest', options: { secret: 'hunter2' }, ...extra })

  it("binds a tenant's stream to its tenant and hides it from other tenants", async () => {
    const created = await call(acme, 'POST', '/v1/streams', webhook('acme-siem', { tenants: ['*'], actions: ['user.*'] }))
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'acme-siem', owner_tenant: 'acme', state: 'active', sink: { options: { secret: '********' } }, filter: { actions: ['user.*'] } })
    expect((await call(acme, 'POST', '/v1/streams', webhook('sneaky', { tenant: 'globex' }))).status).toBe(403)
    expect((await call(globex, 'GET', '/v1/streams/acme-siem')).status).toBe(404)
    expect((await call(globex, 'POST', '/v1/streams/acme-siem/pause')).status).toBe(404)
    expect((await call(globex, 'DELETE', '/v1/streams/acme-siem')).status).toBe(404)
    expect((await call(globex, 'GET', '/v1/streams')).body).toEqual({ streams: [] })
    expect((await call(ingestOnly, 'GET', '/v1/streams')).status).toBe(403)
    // A tenant cannot point the service at its own machine or private network.
    for (const url of ['http://127.0.0.1:9/', 'http://[::1]/', 'https://10.1.2.3/', 'http://169.254.169.254/latest', 'http://localhost:8080/']) {
      const refused = await call(acme, 'POST', '/v1/streams', webhook('internal', { url }))
      expect(refused.status, url).toBe(400)
      expect(refused.body!['details'][0], url).toMatchObject({ field: 'url', rule: 'private' })
    }
    expect((await call(admin, 'POST', '/v1/streams', webhook('internal-ok', { url: 'http://127.0.0.1:9/' }))).status).toBe(201)
    expect((await call(admin, 'DELETE', '/v1/streams/internal-ok')).status).toBe(204)
  })

  it('records every change to a stream in the access trail, with the key that made it', async () => {
    expect((await call(acme, 'POST', '/v1/streams', webhook('audited'))).status).toBe(201)
    expect((await call(acme, 'POST', '/v1/streams/audited/pause')).status).toBe(200)
    expect((await call(acme, 'POST', '/v1/streams/audited/replay', { from_time: '2026-01-01T00:00:00.000Z' })).status).toBe(201)
    expect((await call(acme, 'DELETE', '/v1/streams/audited')).status).toBe(204)
    const { events } = await service.audit.store.query({ tenant_id: 'auditq' }, { limit: 200 })
    const changes = events.filter((event) => event.action.startsWith('auditq.stream.') && JSON.stringify(event.metadata).includes('audited')).reverse()
    expect(changes.map((event) => event.action)).toEqual(['auditq.stream.change', 'auditq.stream.change', 'auditq.stream.replay', 'auditq.stream.change'])
    expect(changes.every((event) => event.resource_id === 'acme')).toBe(true)
  })

  it('lets an admin key manage every stream, including all-tenant ones', async () => {
    expect((await call(admin, 'POST', '/v1/streams', webhook('all-tenants'))).body).toMatchObject({ owner_tenant: null })
    const names = (await call(admin, 'GET', '/v1/streams')).body!['streams'].map((s: { name: string }) => s.name)
    expect(names).toEqual(['acme-siem', 'all-tenants'])
    expect((await call(acme, 'GET', '/v1/streams')).body!['streams'].map((s: { name: string }) => s.name)).toEqual(['acme-siem'])
    expect((await call(admin, 'POST', '/v1/streams/acme-siem/pause')).body).toMatchObject({ state: 'paused' })
    expect((await call(acme, 'POST', '/v1/streams/acme-siem/resume')).body).toMatchObject({ state: 'active' })
    const replay = await call(acme, 'POST', '/v1/streams/acme-siem/replay', { from_time: '2026-01-01T00:00:00Z' })
    expect(replay.status).toBe(201)
    expect(replay.body).toMatchObject({ replay_of: 'acme-siem', owner_tenant: 'acme', filter: { from: '2026-01-01T00:00:00.000Z' } })
    expect((await call(acme, 'POST', '/v1/streams/acme-siem/replay', { from_cursor: 'garbage!' })).status).toBe(400)
    expect((await call(admin, 'DELETE', '/v1/streams/all-tenants')).status).toBe(204)
    expect((await call(admin, 'GET', '/v1/streams/all-tenants')).body).toMatchObject({ code: 'AUDITQ_STREAM_NOT_FOUND' })
  })

  it('refuses bad definitions naming the field and rule', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [webhook('Bad Name'), 'name'],
      [webhook('x', { url: 'ftp://siem' }), 'url'],
      [{ ...webhook('x'), sink: 'syslog', url: 'udp://127.0.0.1:514' }, 'url'],
      [webhook('x', { options: {} }), 'secret'],
      [webhook('x', { batch_size: 0 }), 'batch_size'],
      [webhook('x', { format: 'xml' }), 'format'],
      [webhook('x', { surprise: 1 }), 'surprise'],
    ]
    for (const [body, field] of cases) {
      const response = await call(admin, 'POST', '/v1/streams', body)
      expect(response.status, field).toBe(400)
      expect(response.body, field).toMatchObject({ code: 'AUDITQ_STREAM_INVALID' })
      expect(JSON.stringify(response.body!['details']), field).toContain(field)
    }
    expect((await call(admin, 'POST', '/v1/streams', webhook('acme-siem'))).status).toBe(409)
  })
})
