/**
 * Hostile credentials and tenant-crossing requests against the real keyed service (two tenants,
 * keys of every scope). Whatever the Authorization header: never a 5xx, a 401 unless it carries
 * exactly a valid key, a 403 when the key lacks the scope, never a key's secret in a response.
 * Whatever the query, filter, cursor or id: tenant A's key never sees (or is told of) B's events;
 * whatever the body: every event an A key stores is A's.
 */
import http from 'node:http'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERROR_CATALOG } from '../../src/errors.js'
import type { AuditEvent } from '../../src/event/types.js'
import type { Scope } from '../../src/auth/principal.js'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'
import { hostileText, ingestRequest, queryRequest, type IngestRequest } from './arbitraries.js'
import { CaseTally, fuzzParameters, testTimeoutMs, type Budget } from './campaign.js'

const A = 'acme'
const B = 'default'

interface Keys {
  ingest: string
  read: string
  admin: string
  all: string
}

interface Route {
  method: 'GET' | 'POST'
  url: string
  access: Scope | 'public'
}

const ROUTES: Route[] = [
  { method: 'GET', url: '/v1/events?limit=3', access: 'read' },
  { method: 'GET', url: '/v1/events/export?format=csv', access: 'read' },
  { method: 'GET', url: '/v1/events/01900000-0000-7000-8000-000000000000', access: 'read' },
  { method: 'POST', url: '/v1/events', access: 'ingest' },
  { method: 'GET', url: '/api/v1/monitoring/health', access: 'public' },
  { method: 'GET', url: '/', access: 'public' },
  { method: 'GET', url: '/dashboard', access: 'public' },
  { method: 'GET', url: '/v1/reports?period=daily', access: 'read' },
  { method: 'GET', url: '/v1/integrity', access: 'read' },
  { method: 'GET', url: '/api/v1/monitoring/audit-metrics', access: 'admin' },
  { method: 'GET', url: '/api/v1/monitoring/history', access: 'admin' },
  { method: 'GET', url: '/metrics', access: 'admin' },
]

type Credential = { inputClass: string; header: string | undefined; scopes: Scope[] | null }

/** Headers an attacker or a broken client sends, and which of them carry a valid key (scopes) or not (null). */
function credential(keys: Keys, other: Keys): fc.Arbitrary<Credential> {
  const valid = fc.constantFrom<[string, Scope[]]>([keys.ingest, ['ingest']], [keys.read, ['read']], [keys.admin, ['admin']], [keys.all, ['ingest', 'read', 'admin']], [other.all, ['ingest', 'read', 'admin']])
  const mutated = fc.tuple(fc.constantFrom(keys.read, keys.all, other.admin), fc.nat(), fc.constantFrom('flip', 'cut', 'append', 'upper', 'swap-id')).map(([key, at, how]) => {
    const i = 20 + (at % (key.length - 20))
    const c = key[i]!
    if (how === 'flip') return key.slice(0, i) + (c === 'A' ? 'B' : 'A') + key.slice(i + 1)
    if (how === 'cut') return key.slice(0, i)
    if (how === 'append') return key + 'A'
    if (how === 'upper') return key.toUpperCase()
    return key.replace(/^aq_[0-9a-f]{16}_/, `aq_${other.read.split('_')[1]}_`) // right secret, wrong id
  })
  return fc.oneof(
    { weight: 4, arbitrary: valid.map(([key, scopes]) => ({ inputClass: 'valid key', header: `Bearer ${key}`, scopes })) },
    { weight: 1, arbitrary: valid.map(([key, scopes]) => ({ inputClass: 'valid key, odd spelling', header: `bearer   ${key}  `, scopes })) },
    { weight: 3, arbitrary: mutated.map((key) => ({ inputClass: 'mutated key', header: `Bearer ${key}`, scopes: null })) },
    { weight: 1, arbitrary: fc.constant({ inputClass: 'no header', header: undefined, scopes: null }) },
    { weight: 2, arbitrary: hostileText.map((text) => ({ inputClass: 'random header', header: text.replace(/[\r\n\0]/g, ''), scopes: null })) },
    { weight: 2, arbitrary: fc.stringMatching(/^aq_[0-9a-f]{16}_[\w-]{43}$/).map((key) => ({ inputClass: 'well-formed unknown key', header: `Bearer ${key}`, scopes: null })) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer ${keys.read} ${keys.read}`, `Token ${keys.read}`, keys.read, `Bearer ${'a'.repeat(10_000)}`, `Bearer aq_${'0'.repeat(16)}_`, 'Bearer aq_../../etc/passwd', "Bearer ' OR 1=1 --")
        .map((header) => ({ inputClass: 'malformed header', header, scopes: null })),
    },
  )
}

async function send(app: KeyedApp, route: Route, header: string | undefined, body?: Buffer, contentType = 'application/json') {
  const headers: Record<string, string> = header === undefined ? {} : { authorization: header }
  const response = await app.app.inject({ method: route.method, url: route.url, headers: route.method === 'POST' ? { ...headers, 'content-type': contentType } : headers, ...(route.method === 'POST' ? { payload: body ?? Buffer.from('{"action":"fuzz.auth"}') } : {}) })
  return response
}

function catalogProblems(status: number, text: string): string[] {
  if (status >= 500) return [`${status}: ${text.slice(0, 200)}`]
  if (status < 400) return []
  try {
    const body = JSON.parse(text) as { code: keyof typeof ERROR_CATALOG; statusCode: number }
    return ERROR_CATALOG[body.code]?.status === status && body.statusCode === status ? [] : [`${status} with ${text.slice(0, 200)}`]
  } catch {
    return [`${status} without a JSON body`]
  }
}

describe('keyed service under hostile credentials and tenant-crossing requests', () => {
  let app: KeyedApp
  const keys = {} as Record<string, Keys>
  const ids: Record<string, string[]> = { [A]: [], [B]: [] }
  let cursorOfB = ''
  const tally = new CaseTally('auth and tenants (embedded)')

  beforeAll(async () => {
    app = await startKeyedApp('embedded')
    for (const tenant of [A, B]) {
      keys[tenant] = {
        ingest: (await app.createKey(tenant, ['ingest'])).key,
        read: (await app.createKey(tenant, ['read'])).key,
        admin: (await app.createKey(tenant, ['admin'])).key,
        all: (await app.createKey(tenant, ['ingest', 'read', 'admin'])).key,
      }
      const events = Array.from({ length: 60 }, (_, i) => ({ action: ['login', 'logout', 'api_key.created'][i % 3], actor_id: ['u1', 'u2', 'ü-3', '42'][i % 4], resource_type: 'doc', resource_id: ['d1', 'd2'][i % 2], occurred_at: new Date(Date.UTC(2021, 0, 1) + i * 86_400_000 * 17).toISOString(), metadata: { marker: `${tenant}-only` } }))
      const response = await app.app.inject({ method: 'POST', url: '/v1/events', headers: { authorization: `Bearer ${keys[tenant]!.ingest}` }, payload: { events } })
      ids[tenant] = (response.json() as { ids: string[] }).ids
    }
    cursorOfB = (await app.app.inject({ method: 'GET', url: '/v1/events?limit=7', headers: { authorization: `Bearer ${keys[B]!.read}` } })).json().next_cursor as string
  })
  afterAll(async () => {
    tally.report()
    await app?.close()
  })

  const credentials: Budget = { ciRuns: 1_500, ciSeconds: 6 }
  it('any Authorization header on any route: 401 unless a valid key, 403 without the scope, never a 5xx or a secret echoed', async () => {
    const secrets = Object.values(keys).flatMap((k) => Object.values(k)).map((key) => key.slice(20))
    await fc.assert(
      fc.asyncProperty(credential(keys[A]!, keys[B]!), fc.constantFrom(...ROUTES), async (cred, route) => {
        tally.count(`credential: ${cred.inputClass}`)
        const response = await send(app, route, cred.header)
        tally.note(`credential status ${response.statusCode}`)
        expect(catalogProblems(response.statusCode, response.body)).toEqual([])
        for (const secret of secrets) expect(response.body).not.toContain(secret)
        // A public route answers everyone, but a key presented and refused is told so.
        const refusedKey = cred.scopes === null && (cred.header ?? '').trim() !== ''
        if (route.access === 'public' && refusedKey) expect(response.statusCode).toBe(401)
        else if (route.access === 'public') expect(response.statusCode).toBeLessThan(400)
        else if (cred.scopes === null) expect(response.statusCode).toBe(401)
        else if (!cred.scopes.includes(route.access)) expect(response.statusCode).toBe(403)
        else expect([200, 202, 404]).toContain(response.statusCode)
        if (route.url === '/api/v1/monitoring/health' && response.statusCode < 400 && !cred.scopes?.includes('admin')) expect(Object.keys(response.json()).sort()).toEqual(['services', 'status', 'timestamp'])
      }),
      fuzzParameters(credentials),
    )
  }, testTimeoutMs(credentials))

  const queries: Budget = { ciRuns: 3_000, ciSeconds: 8 }
  it("any query, filter, cursor or id with A's read key: only A's events, nothing of B's", async () => {
    const bIds = new Set(ids[B])
    await fc.assert(
      // B's cursor and B's ids are what the arbitrary offers as "valid": the crossing attempts.
      fc.asyncProperty(fc.constant(null).chain(() => queryRequest(cursorOfB, [...ids[B]!, ...ids[A]!.slice(0, 5)])), async (request) => {
        tally.count(`tenant-crossing ${request.inputClass}`)
        const response = await app.app.inject({ method: 'GET', url: request.url, headers: { authorization: `Bearer ${keys[A]!.read}` } })
        tally.note(`crossing status ${response.statusCode}`)
        expect(catalogProblems(response.statusCode, response.body)).toEqual([])
        // B's ids never appear unless the caller itself sent one (a 404 naming the id it asked for).
        for (const id of bIds) if (response.body.includes(id)) expect(request.url.toLowerCase()).toContain(id)
        expect(response.body).not.toContain(`${B}-only`)
        if (response.statusCode !== 200) return
        for (const event of eventsOf(response.body, response.headers['content-type'] as string)) expect(event.tenant_id).toBe(A)
        if (request.route === 'by id') tally.note('crossing: own event by id')
      }),
      fuzzParameters(queries),
    )
  }, testTimeoutMs(queries))

  const writes: Budget = { ciRuns: 400, cost: 8, ciSeconds: 8 }
  it("any body with A's ingest key: every stored event is A's; naming another tenant is refused as tenant_mismatch", async () => {
    await fc.assert(
      fc.asyncProperty(ingestRequest(), async (request: IngestRequest) => {
        tally.count(`tenant-stamped ingest: ${request.inputClass}`)
        const response = await send(app, { method: 'POST', url: '/v1/events', access: 'ingest' }, `Bearer ${keys[A]!.ingest}`, request.body, request.contentType)
        expect(catalogProblems(response.statusCode, response.body)).toEqual([])
        const body = JSON.parse(response.body) as { ids?: string[]; rejected?: { errors: { rule: string }[] }[]; details?: { rejected?: { errors: { rule: string }[] }[] } }
        const rejected = body.rejected ?? body.details?.rejected ?? []
        for (const entry of rejected) if (entry.errors.some((e) => e.rule === 'tenant_mismatch')) tally.note('tenant_mismatch refusal')
        for (const id of (body.ids ?? []).slice(0, 5)) {
          const read = await app.app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: { authorization: `Bearer ${keys[A]!.all}` } })
          expect(read.statusCode).toBe(200)
          expect((read.json() as AuditEvent).tenant_id).toBe(A)
          const fromB = await app.app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: { authorization: `Bearer ${keys[B]!.all}` } })
          expect(fromB.statusCode).toBe(404)
          tally.note('stored event is A only')
        }
      }),
      fuzzParameters(writes),
    )
  }, testTimeoutMs(writes))
})

function eventsOf(text: string, contentType: string): Pick<AuditEvent, 'tenant_id'>[] {
  if (contentType.startsWith('text/csv')) return text.trim().split('\r\n').slice(1).filter(Boolean).map((row) => ({ tenant_id: row.split(',')[1]! }))
  if (contentType.startsWith('application/x-ndjson')) return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEvent)
  const body = JSON.parse(text) as { events?: AuditEvent[] } & Partial<AuditEvent>
  return body.events ?? [body as AuditEvent]
}

/** heapUsed after a full GC (see the memory property in http.fuzz.test.ts for why this works without flags). */
function collectGarbage(): number {
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

describe('memory of the keyed service under hostile credentials', () => {
  /**
   * Over a socket (inject retains per-request objects itself). Every request carries a fresh
   * credential, many of them unknown well-formed keys. A round of 1,000 must retain less than the
   * 3 MiB the HTTP memory property allows: keeping each request, body or error (several KiB) would
   * pass it. The key cache's own bound (10,000 ids) is proven in src/auth/resolver.test.ts.
   */
  it('stays flat: a second round of 1,000 requests with fresh credentials retains less than 3 MiB', async () => {
    const app = await startKeyedApp('embedded', { security: { keyCacheTtlMs: 10_000 } })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const port = Number(new URL(app.baseUrl).port)
    const keysOfA = { ingest: (await app.createKey(A, ['ingest'])).key, read: (await app.createKey(A, ['read'])).key, admin: (await app.createKey(A, ['admin'])).key, all: (await app.createKey(A, ['ingest', 'read', 'admin'])).key }
    const keysOfB = { ...keysOfA, all: (await app.createKey(B, ['ingest', 'read', 'admin'])).key }
    const tally = new CaseTally('memory (keyed, socket)')
    const request = (route: Route, header: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const outgoing = http.request({ host: '127.0.0.1', port, agent, method: route.method, path: route.url, headers: { ...(header === undefined ? {} : { authorization: header }), 'content-type': 'application/json' } }, (response) => {
          response.resume()
          response.on('end', () => resolve(response.statusCode ?? 0))
        })
        outgoing.on('error', reject)
        outgoing.end(route.method === 'POST' ? '{"action":"mem.test"}' : undefined)
      })
    const round = async (seed: number) => {
      for (const [cred, route] of fc.sample(fc.tuple(credential(keysOfA, keysOfB), fc.constantFrom(...ROUTES)), { numRuns: 1_000, seed })) {
        // Node's HTTP client will not send characters outside Latin-1 in a header; inject covers those.
        if (cred.header !== undefined && /[^\t\x20-\x7e\x80-\xff]/.test(cred.header)) continue
        tally.count(`credential: ${cred.inputClass}`)
        expect(await request(route, cred.header)).toBeLessThan(500)
      }
    }
    try {
      await round(1)
      const afterWarmUp = collectGarbage()
      await round(2)
      const afterFirst = collectGarbage()
      await round(3)
      const afterSecond = collectGarbage()
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`
      console.log(`keyed memory: heapUsed after a full GC — warm-up ${mib(afterWarmUp)}, round 1 ${mib(afterFirst)}, round 2 ${mib(afterSecond)} (Δ ${mib(afterSecond - afterFirst)})`)
      tally.report()
      expect(afterSecond - afterFirst).toBeLessThan(3 * 2 ** 20)
    } finally {
      agent.destroy()
      await app.close()
    }
  }, 120_000)
})
