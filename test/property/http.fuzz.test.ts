/**
 * The real service over a real store, through fastify's routing and parsing (`inject`), fed what
 * a careless or hostile client sends. Whatever arrives: never a 5xx, every error a catalog code,
 * every 202 internally consistent, and every stored event one the validator accepts.
 */
import http from 'node:http'
import { connect } from 'node:net'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERROR_CATALOG } from '../../src/errors.js'
import { isAbsent } from '../../src/event/normalize.js'
import { redactEvent, redactionPolicy } from '../../src/event/redact.js'
import type { AuditEvent } from '../../src/event/types.js'
import { validateEvent } from '../../src/event/validate.js'
import { parseInstant } from '../../src/query/filter.js'
import { startApp, type StoreKind, type TestApp } from '../support/app.js'
import { postgresAvailable } from '../support/services.js'
import {
  fieldErrorViolations,
  ingestRequest,
  KNOWN_PARAMS,
  NDJSON_RULES,
  POOL,
  queryRequest,
  requestIdValue,
  revalidationViolations,
  sameJson,
  SERVICE_LIMITS,
  storedFormViolations,
  VALIDATOR_RULES,
  type IngestRequest,
  type QueryRequest,
} from './arbitraries.js'
import { CaseTally, fuzzParameters, POSTGRES_QUERIES, STRICT, testTimeoutMs, type Budget } from './campaign.js'

const hasPostgres = await postgresAvailable()

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const INGEST_RULES = new Set([...VALIDATOR_RULES, ...NDJSON_RULES])

/**
 * Requests per round, and what the second round may retain. heapUsed after a full GC moved by
 * 0.15–0.25 MiB either way between rounds that leak nothing (2,000 and 1,500 requests, dev box);
 * a service keeping one request object, body or stored event per request (each several KiB)
 * retains ≥ 3 MiB over 1,000. 3 MiB is ten times the noise and below that leak.
 *
 * Over a socket, not inject: light-my-request 6.8.1 itself retains ~9 KiB per injected request whose
 * body the handler never reads (every GET), which would drown the service's own figure.
 */
const ROUND_REQUESTS = 1_000
const RETAINED_BOUND_BYTES = 3 * 2 ** 20
/** Read-backs per accepted request in the memory rounds: enough to exercise GET by id, few enough for CI. */
const MEMORY_READ_BACKS = 5

// ---------------------------------------------------------------------------------------------
// Transport: fastify's inject (in-process, real routing and parsing) or a real socket
// ---------------------------------------------------------------------------------------------

interface Outgoing {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  payload?: Buffer
}

interface Reply {
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

type Send = (request: Outgoing) => Promise<Reply>

function viaInject(app: FastifyInstance): Send {
  return (request) => app.inject({ method: request.method, url: request.url, headers: request.headers ?? {}, ...(request.payload ? { payload: request.payload } : {}) })
}

/** Keep-alive HTTP/1.1 over loopback: what the memory property uses (see ROUND_REQUESTS for why not inject). */
function viaSocket(port: number, agent: http.Agent): Send {
  const attempt = (request: Outgoing, retried: boolean): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const outgoing = http.request({ host: '127.0.0.1', port, agent, method: request.method, path: request.url, headers: request.headers ?? {} }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }))
        response.on('error', reject)
      })
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        // The server closed a kept-alive socket (after a 431 or 413) just as the agent reused it: the
        // request never reached it, so sending it again is what Node's documentation recommends.
        if (outgoing.reusedSocket && error.code === 'ECONNRESET' && !retried) resolve(attempt(request, true))
        else reject(error)
      })
      outgoing.end(request.payload)
    })
  return (request) => attempt(request, false)
}

// ---------------------------------------------------------------------------------------------
// Known, reported product bugs. Tolerated (and counted) so CI stays green until they are fixed;
// AUDITQ_FUZZ_STRICT=1 makes them fail. Each matcher is as narrow as the bug.
// ---------------------------------------------------------------------------------------------

interface KnownBug {
  id: string
  matches(request: { url: string }, response: Reply): boolean
}

/**
 * Empty since 94be399 fixed the last ones. When a finding cannot be fixed at once, add a matcher as
 * narrow as the bug (with the file it lives in) so CI stays green while it is counted.
 */
const KNOWN_BUGS: KnownBug[] = []

function knownBug(request: { url: string }, response: Reply, tally?: CaseTally): boolean {
  if (STRICT) return false
  const bug = KNOWN_BUGS.find((candidate) => candidate.matches(request, response))
  if (bug) tally?.note(`KNOWN BUG: ${bug.id}`)
  return bug !== undefined
}

function decodeCursorText(cursor: string): { t: string; i: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const { t, i } = parsed as Record<string, unknown>
    return typeof t === 'string' && typeof i === 'string' ? { t, i } : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Oracles for any response
// ---------------------------------------------------------------------------------------------

function jsonOf(response: Reply): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(response.body) as unknown
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Never a 5xx; a 4xx is `{statusCode, code, error, message}` with a catalog code of that status; x-request-id is safe. */
function responseProblems(request: { url: string }, response: Reply, tally: CaseTally): string[] {
  tally.note(`status ${response.statusCode}`)
  const problems: string[] = []
  const requestId = response.headers['x-request-id']
  if (requestId !== undefined && (typeof requestId !== 'string' || !SAFE_REQUEST_ID.test(requestId))) {
    problems.push(`unsafe x-request-id echoed: ${JSON.stringify(requestId)}`)
  }
  if (response.statusCode < 400) return problems
  if (knownBug(request, response, tally)) return problems
  if (response.statusCode >= 500) problems.push(`${response.statusCode}: ${response.body.slice(0, 300)}`)
  const body = jsonOf(response)
  if (!body) return [...problems, `${response.statusCode} without a JSON body: ${response.body.slice(0, 200)}`]
  const code = body.code as keyof typeof ERROR_CATALOG
  if (!Object.hasOwn(ERROR_CATALOG, code)) problems.push(`${response.statusCode} for ${request.url.slice(0, 200)}: code ${String(body.code)} is not in the catalog: ${response.body.slice(0, 200)}`)
  else if (ERROR_CATALOG[code].status !== response.statusCode) problems.push(`${code} answered with ${response.statusCode}`)
  if (body.statusCode !== response.statusCode) problems.push(`body statusCode ${String(body.statusCode)} ≠ ${response.statusCode}`)
  if (typeof body.message !== 'string' || body.message === '') problems.push('error without a message')
  if (typeof body.error !== 'string') problems.push('error without `error`')
  return problems
}

/** A stored event read back must keep the documented rules and be a fixed point of validation. */
function storedEventProblems(event: AuditEvent): string[] {
  return [...storedFormViolations(event, Date.parse(event.received_at)), ...revalidationViolations(event)]
}

// ---------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------

/** What the request holds as the service documents it: the parsed candidates (or a refusal) per index. */
type Candidate = { ok: true; value: unknown } | { ok: false; rule: string }

function expectedCandidates(request: IngestRequest): Candidate[] | undefined {
  const media = request.contentType?.split(';')[0]?.trim().toLowerCase()
  const text = request.body.toString('utf8')
  if (media === 'application/x-ndjson') {
    return text
      .split('\n')
      .map((raw) => raw.trim())
      .filter((line) => line.length > 0)
      .map((line): Candidate => {
        if (Buffer.byteLength(line) > SERVICE_LIMITS.maxNdjsonLineBytes) return { ok: false, rule: 'max_line_bytes' }
        let value: unknown
        try {
          value = JSON.parse(line)
        } catch {
          return { ok: false, rule: 'json' }
        }
        return nesting(value) > SERVICE_LIMITS.maxJsonDepth ? { ok: false, rule: 'max_depth' } : { ok: true, value }
      })
  }
  if (media !== 'application/json') return undefined
  let value: unknown
  try {
    value = JSON.parse(text.replace(/^\ufeff/, ''))
  } catch {
    return undefined
  }
  // Nested past the limit: the whole body is refused (400 AUDITQ_VALIDATION, max_depth), no candidates.
  if (nesting(value) > SERVICE_LIMITS.maxJsonDepth) return undefined
  const isEnvelope = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && Array.isArray((value as { events?: unknown }).events)
  const list = Array.isArray(value) ? value : isEnvelope ? (value as { events: unknown[] }).events : value === null ? [] : [value]
  return list.map((item) => ({ ok: true, value: item }))
}

/** Levels of arrays and objects in a parsed value (a scalar is 0), walked without recursion: fuzzed values nest 200,000 deep. */
function nesting(root: unknown): number {
  let deepest = 0
  const stack: [unknown, number][] = [[root, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    if (typeof value !== 'object' || value === null) continue
    deepest = Math.max(deepest, depth + 1)
    for (const child of Object.values(value)) stack.push([child, depth + 1])
  }
  return deepest
}

/** Explicit ids sent so far: a stored event equals its input only when its id was sent once. */
type IdLedger = Map<string, number>

async function judgeIngest(send: Send, request: IngestRequest, ledger: IdLedger, tally: CaseTally, readBackLimit = Number.POSITIVE_INFINITY): Promise<string[]> {
  tally.count(request.inputClass)
  // No later than the server's receipt time: an event valid at this instant is valid at any later one.
  const sentAt = new Date()
  const response = await send({
    method: 'POST',
    url: '/v1/events',
    headers: request.contentType === undefined ? {} : { 'content-type': request.contentType },
    payload: request.body,
  })
  const problems = responseProblems({ url: '/v1/events' }, response, tally)
  const body = jsonOf(response)
  const candidates = expectedCandidates(request)
  for (const candidate of candidates ?? []) {
    if (!candidate.ok || typeof candidate.value !== 'object' || candidate.value === null) continue
    const id = (candidate.value as { id?: unknown }).id
    if (typeof id === 'string' && !isAbsent(id)) ledger.set(id.toLowerCase(), (ledger.get(id.toLowerCase()) ?? 0) + 1)
  }
  if (response.statusCode === 413 && body?.code === 'AUDITQ_TOO_MANY_EVENTS' && candidates && candidates.length <= SERVICE_LIMITS.maxEventsPerRequest) {
    problems.push(`413 too many events for ${candidates.length}`)
  }
  if (response.statusCode === 400 && body?.code === 'AUDITQ_VALIDATION') {
    const rejected = (body.details as { rejected?: unknown } | undefined)?.rejected
    if (!Array.isArray(rejected)) problems.push('400 validation without details.rejected')
    else if (candidates && rejected.length !== candidates.length) problems.push(`400 lists ${rejected.length} rejected of ${candidates.length} events`)
    else problems.push(...rejectedProblems(rejected, candidates, sentAt))
  }
  if (response.statusCode !== 202) return problems
  tally.note('202 accepted')
  if (!body) return [...problems, '202 without a JSON body']
  const { accepted, ids, rejected } = body as { accepted: unknown; ids: unknown; rejected: unknown }
  if (!Array.isArray(ids) || !Array.isArray(rejected) || accepted !== ids.length) return [...problems, `inconsistent 202: ${response.body.slice(0, 300)}`]
  problems.push(...rejectedProblems(rejected, candidates, sentAt))
  if (candidates) {
    if (ids.length + rejected.length !== candidates.length) problems.push(`${ids.length} accepted + ${rejected.length} rejected ≠ ${candidates.length} sent`)
    if (candidates.length > SERVICE_LIMITS.maxEventsPerRequest) problems.push(`202 for ${candidates.length} events`)
  }
  const refused = new Set((rejected as { index: number }[]).map((entry) => entry.index))
  const acceptedIndexes = candidates ? candidates.map((_, index) => index).filter((index) => !refused.has(index)) : []
  for (const [position, id] of (ids as unknown[]).entries()) {
    if (position >= readBackLimit) break
    if (typeof id !== 'string' || !UUID.test(id)) {
      problems.push(`id ${JSON.stringify(id)} is not a lowercase UUID`)
      continue
    }
    const read = await send({ method: 'GET', url: `/v1/events/${id}` })
    if (read.statusCode !== 200) {
      problems.push(`accepted ${id} reads back as ${read.statusCode}`)
      continue
    }
    tally.note('stored event read back')
    const stored = JSON.parse(read.body) as AuditEvent
    problems.push(...storedEventProblems(stored))
    const index = acceptedIndexes[position]
    const candidate = index === undefined ? undefined : candidates?.[index]
    if (candidate?.ok) problems.push(...storedAsSent(stored, candidate.value, ledger))
  }
  return problems
}

/** The service's default redaction (startApp uses the default config): secrets in metadata are stored as [REDACTED]. */
const REDACTION = redactionPolicy()

/** The stored event is exactly what validating (then redacting) the sent value gives (unless its id was sent more than once). */
function storedAsSent(stored: AuditEvent, sent: unknown, ledger: IdLedger): string[] {
  const expected = validateEvent(sent, { receivedAt: new Date(stored.received_at) })
  if (!expected.ok) return [`stored an event the validator refuses: ${JSON.stringify(expected.errors).slice(0, 400)}`]
  redactEvent(expected.event, REDACTION)
  const explicitId = typeof sent === 'object' && sent !== null && !isAbsent((sent as { id?: unknown }).id)
  if (explicitId && expected.event.id !== stored.id) return [`sent id ${expected.event.id} came back as ${stored.id}`]
  if (explicitId && (ledger.get(stored.id) ?? 0) > 1) return []
  return sameJson({ ...expected.event, id: stored.id }, stored) ? [] : [`stored ${JSON.stringify(stored).slice(0, 300)} ≠ validated input`]
}

function rejectedProblems(rejected: unknown[], candidates: Candidate[] | undefined, sentAt: Date): string[] {
  const problems: string[] = []
  let previous = -1
  for (const entry of rejected as { index: unknown; errors: unknown }[]) {
    if (typeof entry.index !== 'number' || !Number.isInteger(entry.index) || entry.index <= previous) problems.push(`rejected indexes not sorted and unique: ${JSON.stringify(rejected.map((r) => (r as { index: unknown }).index)).slice(0, 200)}`)
    else if (candidates && entry.index >= candidates.length) problems.push(`rejected index ${entry.index} of ${candidates.length}`)
    if (typeof entry.index === 'number') previous = entry.index
    if (!Array.isArray(entry.errors)) {
      problems.push(`rejected entry without errors: ${JSON.stringify(entry).slice(0, 200)}`)
      continue
    }
    problems.push(...fieldErrorViolations(entry.errors, INGEST_RULES).map((p) => `[${String(entry.index)}] ${p}`))
    const candidate = typeof entry.index === 'number' ? candidates?.[entry.index] : undefined
    if (candidate && !candidate.ok && !entry.errors.some((e: { rule?: unknown }) => e.rule === candidate.rule)) problems.push(`line ${entry.index} should be refused with ${candidate.rule}`)
    if (candidate?.ok) {
      const verdict = validateEvent(candidate.value, { receivedAt: sentAt })
      // A refusal the validator agrees with is fine; one it does not explain is the store refusing a valid event.
      if (verdict.ok) problems.push(`[${entry.index}] refused though valid: ${JSON.stringify(entry.errors).slice(0, 300)}`)
    }
  }
  return problems
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

async function judgeQuery(send: Send, request: QueryRequest, tally: CaseTally): Promise<string[]> {
  const response = await send({ method: 'GET', url: request.url })
  const problems = responseProblems(request, response, tally)
  const body = jsonOf(response)
  const url = new URL(request.url, 'http://x')
  // responseProblems already vouched for a JSON body with a catalog code.
  if (response.statusCode === 400 && body && problems.length === 0 && !knownBug(request, response)) {
    if (body.code !== 'AUDITQ_BAD_REQUEST') problems.push(`400 with ${String(body.code)}`)
    const details = body.details as { field?: unknown; rule?: unknown; message?: unknown }[] | undefined
    const sent = new Set([...url.searchParams.keys(), ...rawNames(url.search)])
    if (!Array.isArray(details) || details.length === 0) problems.push(`400 without details: ${response.body.slice(0, 200)}`)
    else {
      for (const detail of details) {
        tally.note(`400 ${KNOWN_PARAMS.includes(detail.field as string) ? String(detail.field) : '(other name)'}/${String(detail.rule)}`)
        // A path that cannot even be routed (bad percent-encoding, a parameter over 100 chars) is `(url)`.
        const named = typeof detail.field === 'string' && (sent.has(detail.field) || (request.route === 'by id' && ['id', '(url)'].includes(detail.field)))
        if (!named || typeof detail.rule !== 'string' || typeof detail.message !== 'string') problems.push(`400 detail does not name a sent field: ${JSON.stringify(detail).slice(0, 200)}`)
      }
    }
  }
  if (response.statusCode !== 200) return problems
  if (request.route === 'by id') return [...problems, ...storedEventProblems(JSON.parse(response.body) as AuditEvent)]
  const events = request.route === 'list' ? ((body?.events as AuditEvent[] | undefined) ?? []) : exportedEvents(response, problems)
  tally.note(`${request.route} 200 with ${events.length === 0 ? 'no' : 'some'} events`)
  problems.push(...pageProblems(events, url.searchParams, request.route))
  if (request.route === 'list' && body && body.next_cursor !== null && typeof body.next_cursor !== 'string') problems.push('next_cursor is neither a string nor null')
  return problems
}

/** Parameter names as they appear undecoded (fastify keeps an undecodable name as sent). */
function rawNames(search: string): string[] {
  return search.replace(/^\?/, '').split('&').map((pair) => pair.split('=')[0] ?? '')
}

function exportedEvents(response: Reply, problems: string[]): AuditEvent[] {
  if (String(response.headers['content-type']).startsWith('text/csv')) {
    if (!response.body.startsWith('id,tenant_id,occurred_at')) problems.push('CSV export without its header')
    return []
  }
  const events: AuditEvent[] = []
  for (const line of response.body.split('\n')) {
    if (line === '') continue
    try {
      events.push(JSON.parse(line) as AuditEvent)
    } catch {
      problems.push(`export line is not JSON: ${line.slice(0, 100)}`)
    }
  }
  return events
}

/** Every event valid, newest first, within the page size, matching every filter and after the cursor. */
function pageProblems(events: AuditEvent[], params: URLSearchParams, route: 'list' | 'export'): string[] {
  const problems: string[] = []
  const limit = params.has('limit') ? Number(params.get('limit')) : SERVICE_LIMITS.defaultQueryLimit
  if (route === 'list' && events.length > limit) problems.push(`${events.length} events for limit ${limit}`)
  const after = params.has('cursor') ? decodeCursorText(params.get('cursor')!) : undefined
  const from = params.has('from') ? parseInstant(params.get('from')!) : undefined
  const to = params.has('to') ? parseInstant(params.get('to')!) : undefined
  let previous: AuditEvent | undefined
  for (const event of events) {
    problems.push(...storedEventProblems(event))
    for (const field of ['actor_id', 'action', 'category', 'resource_type', 'resource_id', 'tenant_id'] as const) {
      if (params.has(field) && event[field] !== params.get(field)) problems.push(`${field} filter ${params.get(field)} returned ${event[field]}`)
    }
    if (params.has('success') && event.success !== (params.get('success') === 'true')) problems.push('success filter not applied')
    const at = Date.parse(event.occurred_at)
    if (from !== undefined && at < Date.parse(from)) problems.push(`event at ${event.occurred_at} before from ${from}`)
    if (to !== undefined && at >= Date.parse(to)) problems.push(`event at ${event.occurred_at} not before to ${to}`)
    if (after && !before(event, { occurred_at: after.t, id: after.i })) problems.push(`event ${event.id} is not after the cursor`)
    if (previous && !before(event, previous)) problems.push(`events out of order: ${previous.id} then ${event.id}`)
    previous = event
  }
  return problems
}

function before(event: Pick<AuditEvent, 'occurred_at' | 'id'>, than: Pick<AuditEvent, 'occurred_at' | 'id'>): boolean {
  const a = Date.parse(event.occurred_at)
  const b = Date.parse(than.occurred_at)
  return a < b || (a === b && event.id < than.id)
}

/** Events with pooled filter values, spread over 2020–2026, so filters and pages have something to return. */
async function seedQueryStore(send: Send): Promise<{ cursor: string; ids: string[] }> {
  const events = Array.from({ length: 300 }, (_, i) => ({
    action: POOL.action[i % 3],
    actor_id: POOL.actor_id[i % 4],
    resource_type: POOL.resource_type[i % 2],
    resource_id: POOL.resource_id[(i >> 1) % 2],
    tenant_id: POOL.tenant_id[(i >> 2) % 2],
    category: ['info', 'warning', 'critical'][i % 3],
    success: i % 5 !== 0,
    // Some share one instant, so the id breaks the tie in ordering and cursors.
    occurred_at: i % 7 === 0 ? '2024-01-01T00:00:00.000Z' : new Date(Date.UTC(2020, 0, 1) + i * 7_654_321_000).toISOString(),
  }))
  const response = await send({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: Buffer.from(JSON.stringify({ events })) })
  const ids = (JSON.parse(response.body) as { ids: string[] }).ids
  const page = JSON.parse((await send({ method: 'GET', url: '/v1/events?limit=7' })).body) as { next_cursor: string }
  return { cursor: page.next_cursor, ids }
}

// ---------------------------------------------------------------------------------------------
// Request ids
// ---------------------------------------------------------------------------------------------

const ROUTES = [
  { method: 'GET', url: '/' },
  { method: 'GET', url: '/v1/events?limit=1' },
  { method: 'GET', url: '/v1/events?limit=0' },
  { method: 'GET', url: '/nope' },
  { method: 'GET', url: '/api/v1/monitoring/health' },
  { method: 'POST', url: '/v1/events', payload: { action: 'rid.test' } },
  { method: 'POST', url: '/v1/events', payload: { nope: 1 } },
] as const

/** Raw bytes on a socket: what inject cannot send (bare CR or LF, NUL, Latin-1) goes through llhttp here. */
function rawExchange(port: number, requestId: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('no answer within 5 s (hang)'))
    }, 5_000)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
    socket.end(Buffer.concat([Buffer.from('GET /v1/events?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: '), requestId, Buffer.from('\r\n\r\n')]))
  })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const ingestKinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

describe.each(ingestKinds)('POST /v1/events over the %s store', (kind) => {
  let t: TestApp
  const tally = new CaseTally(`ingest (${kind})`)
  beforeAll(async () => {
    t = await startApp(kind)
  })
  afterAll(async () => {
    tally.report()
    await t?.close()
  })

  // PostgreSQL is the store that refuses what SQLite lets through (NUL, lone surrogates): one shorter pass there.
  const budget: Budget = kind === 'embedded' ? { ciRuns: 1_200, cost: 8, ciSeconds: 12 } : { ciRuns: 300, cost: 8, ciSeconds: 8 }
  it('never answers 5xx, keeps 202 bodies consistent, and stores only events the validator accepts', async () => {
    const ledger: IdLedger = new Map()
    await fc.assert(
      fc.asyncProperty(ingestRequest(), async (request) => {
        expect(await judgeIngest(viaInject(t.app), request, ledger, tally)).toEqual([])
      }),
      fuzzParameters(budget),
    )
  }, testTimeoutMs(budget))
})

const queryKinds: StoreKind[] = hasPostgres && POSTGRES_QUERIES ? ['embedded', 'postgres'] : ['embedded']

describe.each(queryKinds)('GET /v1/events, /v1/events/export and /v1/events/:id with any query over the %s store', (kind) => {
  let t: TestApp
  let seeded: { cursor: string; ids: string[] }
  const tally = new CaseTally(`queries (${kind})`)
  beforeAll(async () => {
    t = await startApp(kind)
    seeded = await seedQueryStore(viaInject(t.app))
  })
  afterAll(async () => {
    tally.report()
    await t?.close()
  })

  const budget: Budget = { ciRuns: 8_000, ciSeconds: 8 }
  it('never answers 5xx; a 400 is AUDITQ_BAD_REQUEST naming the field; a 200 holds valid, ordered, matching events', async () => {
    expect(seeded.cursor).toEqual(expect.any(String))
    await fc.assert(
      fc.asyncProperty(fc.constant(null).chain(() => queryRequest(seeded.cursor, seeded.ids)), async (request) => {
        tally.count(request.inputClass)
        expect(await judgeQuery(viaInject(t.app), request, tally)).toEqual([])
      }),
      fuzzParameters(budget),
    )
  }, testTimeoutMs(budget))
})

describe('x-request-id', () => {
  let t: TestApp
  let port: number
  const tally = new CaseTally('request ids')
  beforeAll(async () => {
    t = await startApp('embedded')
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    port = (t.app.server.address() as { port: number }).port
  })
  afterAll(async () => {
    tally.report()
    await t?.close()
  })

  const injected: Budget = { ciRuns: 2_000, ciSeconds: 4 }
  it('is echoed only when short and plain, on every route, and never carries what the client smuggled in', async () => {
    await fc.assert(
      fc.asyncProperty(requestIdValue, fc.constantFrom(...ROUTES), fc.boolean(), async (requestId, route, twice) => {
        tally.count(`inject ${twice ? 'two headers' : 'one header'}`)
        const headers = { 'x-request-id': twice ? [requestId, 'second'] : requestId }
        let response: Reply
        try {
          response = await t.app.inject({ method: route.method, url: route.url, headers, ...('payload' in route ? { payload: route.payload } : {}) })
        } catch (error) {
          tally.note(`inject refused the header: ${(error as Error).message.slice(0, 40)}`)
          return
        }
        const echoed = response.headers['x-request-id']
        expect(echoed).toMatch(SAFE_REQUEST_ID)
        if (!twice && SAFE_REQUEST_ID.test(requestId)) expect(echoed).toBe(requestId)
        else expect(echoed).toMatch(UUID)
        expect(response.headers['set-cookie']).toBeUndefined()
        expect(response.headers['x-injected']).toBeUndefined()
      }),
      fuzzParameters(injected),
    )
  }, testTimeoutMs(injected))

  const raw: Budget = { ciRuns: 300, cost: 4, ciSeconds: 4 }
  it('over a raw socket (bare CR or LF, NUL, Latin-1, obs-fold) is never reflected unsafely and never hangs', async () => {
    const rawBytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.constantFrom('abc\r\nSet-Cookie: evil=1', 'abc\nSet-Cookie: evil=1', 'abc\rSet-Cookie: evil=1', 'a\u0000b', 'caf\u00e9', 'a\r\n folded', 'a'.repeat(20_000), 'ok-id').map((s) => Buffer.from(s, 'latin1')),
    )
    await fc.assert(
      fc.asyncProperty(rawBytes, async (bytes) => {
        tally.count('raw socket')
        const answer = await rawExchange(port, bytes)
        const head = answer.split('\r\n\r\n')[0] ?? ''
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])
        tally.note(`raw status ${status}`)
        expect(status, head).toBeLessThan(500)
        const headerLines = head.split('\r\n').slice(1)
        expect(headerLines.filter((line) => /^set-cookie:/i.test(line))).toEqual([])
        for (const line of headerLines.filter((l) => /^x-request-id:/i.test(l))) expect(line.slice('x-request-id:'.length).trim()).toMatch(SAFE_REQUEST_ID)
      }),
      fuzzParameters(raw),
    )
  }, testTimeoutMs(raw))
})

describe('memory under fuzzed traffic', () => {
  /**
   * heapUsed after a full GC: V8 lets a running process turn on --expose-gc, and a fresh context then
   * exposes `gc` (what jest's leak detector does), so no vitest flag is needed.
   */
  function collectGarbage(): number {
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    for (let i = 0; i < 3; i++) gc()
    return process.memoryUsage().heapUsed
  }

  it('stays flat: a second round of fuzzed requests retains no more than a small bound', async () => {
    const t = await startApp('embedded')
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const send = viaSocket((t.app.server.address() as { port: number }).port, agent)
    const seeded = await seedQueryStore(send)
    const tally = new CaseTally('memory (socket)')
    const ledger: IdLedger = new Map()
    const requests = fc.oneof(
      ingestRequest().map((r) => ({ ingest: r })),
      queryRequest(seeded.cursor, seeded.ids).map((q) => ({ query: q })),
    )
    const round = async (seed: number) => {
      for (const request of fc.sample(requests, { numRuns: ROUND_REQUESTS, seed })) {
        if ('ingest' in request) {
          const problems = await judgeIngest(send, request.ingest, ledger, tally, MEMORY_READ_BACKS).catch((error: NodeJS.ErrnoException) => {
            // A server may answer 413 and close while a 4 MiB body is still being written: the client sees a reset.
            if (request.ingest.body.length > SERVICE_LIMITS.bodyLimitBytes && ['ECONNRESET', 'EPIPE'].includes(error.code ?? '')) return []
            throw error
          })
          expect(problems).toEqual([])
        } else {
          tally.count(request.query.inputClass)
          expect(await judgeQuery(send, request.query, tally)).toEqual([])
        }
        ledger.clear() // the test's own bookkeeping must not count as the service's memory
      }
    }
    try {
      await round(1) // warm-up: JIT code, prepared statements, fastify's caches, SQLite's page cache
      const afterWarmUp = collectGarbage()
      await round(2)
      const afterFirst = collectGarbage()
      await round(3)
      const afterSecond = collectGarbage()
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`
      console.log(`memory: heapUsed after a full GC — warm-up ${mib(afterWarmUp)}, round 1 ${mib(afterFirst)}, round 2 ${mib(afterSecond)} (Δ ${mib(afterSecond - afterFirst)}); rss ${mib(process.memoryUsage().rss)}`)
      tally.report()
      expect(afterSecond - afterFirst).toBeLessThan(RETAINED_BOUND_BYTES)
    } finally {
      agent.destroy()
      await t.close()
    }
  }, 120_000)
})
