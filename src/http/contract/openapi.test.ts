/**
 * /openapi.json is the API's contract: it lists every route the server registers (save the
 * dashboard's page and assets, each excluded with a reason), is valid OpenAPI 3.1, its examples
 * match their schemas, the running server accepts every request example, and what the server
 * really answers matches the documented response schemas.
 */
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKeyedApp, type KeyedApp } from '../../../test/support/keyed-app.js'
import { createViewerToken } from '../../viewer/token.js'
import { UNDOCUMENTED_ROUTES } from './install.js'

type Json = Record<string, any>

let t: KeyedApp
let doc: Json
let admin: string
const VIEWER_SECRET = 'the-contract-test-viewer-secret-0123456789'

beforeAll(async () => {
  // With a viewer secret, so the viewer's routes answer rather than say the viewer is off.
  t = await startKeyedApp('embedded', { viewer: { signingSecret: VIEWER_SECRET } })
  admin = (await t.createKey('acme', ['ingest', 'read', 'admin'])).key
  // No key: the document is public.
  const response = await fetch(`${t.baseUrl}/openapi.json`)
  expect(response.status).toBe(200)
  doc = (await response.json()) as Json
})
afterAll(() => t?.close())

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  )

function schemaValidator(schema: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  // Component refs point into the document: validate with the components beside the schema.
  return ajv.compile({ ...schema, components: doc.components })
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(doc))
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(doc.openapi).toMatch(/^3\.1\./)
  })

  it('documents every route the server registered, and no route it did not', () => {
    const registered = t.app
      .registeredRoutes()
      .filter((route) => route.method !== 'HEAD')
      .map((route) => `${route.method} ${route.url}`)
    const documented = new Set(operations().map(({ path, method }) => `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    const missing = registered.filter((route) => !documented.has(route) && !(route in UNDOCUMENTED_ROUTES))
    expect(missing, 'routes registered without a contract: register them with documented(contract) (docs/development.md)').toEqual([])
    expect([...documented].filter((route) => !registered.includes(route))).toEqual([])
    // The exclusions name routes that exist, so the list cannot outlive them.
    for (const route of Object.keys(UNDOCUMENTED_ROUTES)) expect(registered).toContain(route)
    expect(registered.length).toBeGreaterThanOrEqual(14)
  })

  it('declares the bearer-key and viewer-token schemes, and marks public routes as needing none', () => {
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.components.securitySchemes.viewerToken).toMatchObject({ type: 'http', scheme: 'bearer' })
    const viewerRoutes: string[] = []
    for (const { path, method, operation } of operations()) {
      if (operation['x-auditq-scope'] === 'public') expect(operation.security, `${method} ${path}`).toEqual([])
      else if (operation['x-auditq-scope'] === 'viewer-token') {
        expect(operation.security, `${method} ${path}`).toEqual([{ viewerToken: [] }])
        viewerRoutes.push(`${method} ${path}`)
      } else expect(operation.security, `${method} ${path}`).toEqual([{ apiKey: [] }])
      // Every route shares the error body.
      const errors = Object.entries(operation.responses as Json).filter(([status]) => Number(status) >= 400)
      expect(errors.length, `${method} ${path}`).toBeGreaterThan(0)
      for (const [, response] of errors) expect(response.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
    }
    // The viewer's reads, and only they, take a viewer token.
    expect(viewerRoutes.sort()).toEqual(['GET /v1/viewer/events', 'GET /v1/viewer/events/{id}', 'GET /v1/viewer/events/{id}/integrity', 'GET /v1/viewer/export', 'GET /v1/viewer/session'])
    expect(doc.paths['/v1/viewer-tokens'].post['x-auditq-scope']).toBe('admin|viewer')
  })

  it('has examples that match their schemas', () => {
    let checked = 0
    const check = (where: string, schema: Json, value: unknown) => {
      const validate = schemaValidator(schema)
      expect(validate(value) ? [] : validate.errors, where).toEqual([])
      checked++
    }
    for (const { path, method, operation } of operations()) {
      for (const [type, media] of Object.entries((operation.requestBody?.content ?? {}) as Record<string, Json>)) {
        for (const [name, example] of Object.entries((media.examples ?? {}) as Record<string, Json>)) check(`${method} ${path} request ${type} ${name}`, media.schema, example.value)
      }
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Json>)) {
          for (const [name, example] of Object.entries((media.examples ?? {}) as Record<string, Json>)) check(`${method} ${path} ${status} ${type} ${name}`, media.schema, example.value)
        }
      }
    }
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
      for (const example of (schema.examples ?? []) as unknown[]) check(`components.schemas.${name}`, { $ref: `#/components/schemas/${name}` }, example)
    }
    expect(checked).toBeGreaterThanOrEqual(12)
  })

  it('has request examples the running server accepts', async () => {
    let sent = 0
    // Path parameters: a documented example, or (an `id`) what an earlier example created, such
    // as the hold that POST /v1/holds made before POST /v1/holds/{id}/release releases it.
    let createdId: string | undefined
    const urlOf = (path: string, operation: Json) =>
      path.replace(/\{(\w+)\}/g, (_, name: string) => {
        const parameter = ((operation.parameters ?? []) as Json[]).find((p) => p.in === 'path' && p.name === name)
        const value = parameter?.schema?.examples?.[0] ?? (name === 'id' ? createdId : undefined)
        expect(value, `${path}: an example for {${name}}`).toBeDefined()
        return encodeURIComponent(String(value))
      })
    for (const { path, method, operation } of operations()) {
      for (const [type, media] of Object.entries((operation.requestBody?.content ?? {}) as Record<string, Json>)) {
        for (const [name, example] of Object.entries((media.examples ?? {}) as Record<string, Json>)) {
          const response = await fetch(`${t.baseUrl}${urlOf(path, operation)}`, {
            method,
            headers: { authorization: `Bearer ${admin}`, 'content-type': type },
            body: JSON.stringify(example.value),
          })
          const body = (await response.json()) as Json
          if (typeof body.id === 'string') createdId = body.id
          const where = `${method} ${path} ${name}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`
          if (path === '/api/v1/monitoring/redis-losses/ack') {
            // Accepted as a request; this direct-mode service has no Redis losses to clear.
            expect(body.code, where).toBe('AUDITQ_NOT_FOUND')
          } else {
            const success = Object.keys(operation.responses as Json).find((status) => status.startsWith('2'))
            expect(String(response.status), where).toBe(success)
            if (path === '/v1/events') expect(body.rejected, where).toEqual([])
          }
          sent++
        }
      }
    }
    expect(sent).toBeGreaterThanOrEqual(3)
  })

  it('describes what the server really answers', async () => {
    const logged = await fetch(`${t.baseUrl}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'user.login', actor_id: 'u-1', description: 'from the contract test', metadata: { a: 1 } }),
    })
    const id = ((await logged.json()) as Json).ids[0] as string
    const today = new Date().toISOString().slice(0, 10)
    const viewer = (await createViewerToken({ secret: VIEWER_SECRET, tenant_id: 'acme' })).token
    const calls: [string, string, number][] = [
      ['/v1/events', '/v1/events?limit=5', 200],
      ['/v1/events/{id}', `/v1/events/${id}`, 200],
      ['/v1/events/{id}', '/v1/events/not-a-uuid', 400],
      ['/v1/events', '/v1/events?limit=0&actor=x', 400],
      ['/v1/integrity', '/v1/integrity', 200],
      ['/v1/reports', `/v1/reports?period=daily&date=${today}`, 200],
      ['/api/v1/monitoring/health', '/api/v1/monitoring/health', 200],
      ['/api/v1/monitoring/audit-metrics', '/api/v1/monitoring/audit-metrics', 200],
      ['/api/v1/monitoring/history', '/api/v1/monitoring/history', 200],
      ['/v1/feed', '/v1/feed?limit=2', 200],
      ['/v1/feed', '/v1/feed?limit=0&since=x', 400],
      ['/v1/completeness', '/v1/completeness', 200],
      ['/v1/events/{id}/proof', `/v1/events/${id}/proof`, 409],
      ['/v1/display-templates', '/v1/display-templates', 200],
      ['/v1/viewer/session', '/v1/viewer/session', 200],
      ['/v1/viewer/events', '/v1/viewer/events?q=contract', 200],
      ['/v1/viewer/events/{id}', `/v1/viewer/events/${id}`, 200],
      ['/v1/viewer/events/{id}/integrity', `/v1/viewer/events/${id}/integrity`, 200],
      ['/v1/holds', '/v1/holds?include_released=true', 200],
      ['/v1/retention/tenants', '/v1/retention/tenants', 200],
      ['/v1/streams', '/v1/streams', 200],
      ['/v1/streams/{name}', '/v1/streams/no-such-stream', 404],
    ]
    for (const [path, url, status] of calls) {
      const token = path.startsWith('/v1/viewer/') ? viewer : admin
      const response = await fetch(`${t.baseUrl}${url}`, { headers: { authorization: `Bearer ${token}` } })
      const body = await response.json()
      expect(response.status, `${url}: ${JSON.stringify(body).slice(0, 300)}`).toBe(status)
      const documented = doc.paths[path].get.responses[String(status)]
      expect(documented, `${url} ${status} is documented`).toBeDefined()
      if (path === '/v1/viewer/events') expect((body as Json).events.map((e: Json) => e.id), url).toEqual([id])
      const validate = schemaValidator(documented.content['application/json'].schema)
      expect(validate(body) ? [] : validate.errors, url).toEqual([])
    }
  })

  it('refuses what the schemas refuse, naming each field and rule', async () => {
    const get = async (url: string) => {
      const response = await fetch(`${t.baseUrl}${url}`, { headers: { authorization: `Bearer ${admin}` } })
      return { status: response.status, body: (await response.json()) as Json }
    }
    const list = await get('/v1/events?limit=0&actor=x&category=loud&from=yesterday&success=yes')
    expect(list.status).toBe(400)
    expect(list.body.code).toBe('AUDITQ_BAD_REQUEST')
    expect(list.body.details.map((d: Json) => `${d.field}:${d.rule}`)).toEqual(['actor:unknown_parameter', 'category:enum', 'success:boolean', 'from:timestamp', 'limit:range'])
    const repeated = await get('/v1/events?action=a&action=b')
    expect(repeated.body.details).toEqual([{ field: 'action', rule: 'single_value', message: 'must be given once, as a string' }])
    // The feed keeps the rule its clients have always read for an unknown parameter.
    const feed = await get('/v1/feed?limit=0&bogus=1&format=xml')
    expect(feed.body.details.map((d: Json) => `${d.field}:${d.rule}`)).toEqual(['bogus:unknown', 'limit:range', 'format:enum'])
    expect(feed.body.details[0].message).toBe('is not a parameter of this endpoint (tenant_id, limit, wait, format, after)')
    const completeness = await get('/v1/completeness?producer_id=a%20b&since=never&other=ignored')
    expect(completeness.body.details.map((d: Json) => `${d.field}:${d.rule}`)).toEqual(['producer_id:pattern', 'since:timestamp'])
    expect((await get('/v1/events/not-a-uuid/proof')).body.details).toEqual([{ field: 'id', rule: 'uuid', message: 'must be a UUID' }])
    expect((await get('/v1/events/export?proof=maybe')).body.details.map((d: Json) => `${d.field}:${d.rule}`)).toEqual(['proof:enum'])
    const report = await get('/v1/reports?period=yearly&top=0')
    expect(report.body.details.map((d: Json) => `${d.field}:${d.rule}`)).toEqual(['period:enum', 'top:range'])
    const ack = await fetch(`${t.baseUrl}/api/v1/monitoring/redis-losses/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [] }),
    })
    expect(ack.status).toBe(400)
    expect(((await ack.json()) as Json).code).toBe('AUDITQ_BAD_REQUEST')
  })
})
