import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import { startApp, type StoreKind, type TestApp } from '../../test/support/app.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

describe.each(kinds)('events API over the %s store', (kind) => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp(kind, { http: { bodyLimitBytes: 256 * 1024 } })
  })
  afterAll(async () => {
    await t.close()
  })

  const post = (payload: unknown, contentType = 'application/json') =>
    t.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': contentType },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    })

  it('stores one event and reads it back by filter and by id', async () => {
    const response = await post({ action: 'login', actor_id: 'quickstart-u1', ip_address: '192.0.2.7' })
    expect(response.statusCode).toBe(202)
    const body = response.json()
    expect(body).toMatchObject({ accepted: 1, rejected: [] })
    const [id] = body.ids
    const list = (await t.app.inject(`/v1/events?actor_id=quickstart-u1`)).json()
    expect(list.events).toHaveLength(1)
    expect(list.events[0]).toMatchObject({ id, action: 'login', actor_id: 'quickstart-u1', ip_address: '192.0.2.7', success: true, category: 'info', tenant_id: 'default' })
    expect(list.next_cursor).toBeNull()
    const one = await t.app.inject(`/v1/events/${id}`)
    expect(one.statusCode).toBe(200)
    expect(one.json()).toEqual(list.events[0])
  })

  it('refuses a bad event with 400 naming each field and rule', async () => {
    const response = await post({ actor_id: 'u1', category: 'urgent', ip_address: '999.1.1.1' })
    expect(response.statusCode).toBe(400)
    const body = response.json()
    expect(body.code).toBe('AUDITQ_VALIDATION')
    const fields = body.details.rejected[0].errors.map((e: { field: string }) => e.field).sort()
    expect(fields).toEqual(['action', 'category', 'ip_address'])
    expect(body.message).toMatch(/action/)
    for (const error of body.details.rejected[0].errors) expect(error.rule).toMatch(/^[a-z_]+$/)
  })

  it('stores the valid events of a batch and reports each invalid one by index', async () => {
    const response = await post({
      events: [{ action: 'batch.ok', actor_id: 'b1' }, { action: 'has space' }, { action: 'batch.ok', actor_id: 'b2' }, 42],
    })
    expect(response.statusCode).toBe(202)
    const body = response.json()
    expect(body.accepted).toBe(2)
    expect(body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 3])
    const stored = (await t.app.inject('/v1/events?action=batch.ok')).json().events
    expect(stored.map((e: { actor_id: string }) => e.actor_id).sort()).toEqual(['b1', 'b2'])
  })

  it('accepts NDJSON, reporting a broken line without losing its neighbours', async () => {
    const body = ['{"action":"nd.one"}', '{not json', '', '{"action":"nd.two"}'].join('\n')
    const response = await post(body, 'application/x-ndjson')
    expect(response.statusCode).toBe(202)
    const json = response.json()
    expect(json.accepted).toBe(2)
    expect(json.rejected).toEqual([{ index: 1, errors: [expect.objectContaining({ rule: 'json' })] }])
    // The parser's message quotes the line; an error report must not carry the NUL it complains about.
    const nul = await post('nul\u0000 here {', 'application/x-ndjson')
    const message: string = nul.json().details.rejected[0].errors[0].message
    expect(message).not.toContain('\u0000')
    expect(message).toContain('\\u0000')
  })

  it('stores the same id once however often it is sent', async () => {
    const id = uuidv7()
    for (let i = 0; i < 3; i++) expect((await post({ id, action: 'idem.test' })).statusCode).toBe(202)
    expect((await t.app.inject('/v1/events?action=idem.test')).json().events).toHaveLength(1)
  })

  it('normalizes the legacy payload shapes', async () => {
    await post({ userId: 'camel-user', action: 'legacy.camel', resourceType: 'doc', resourceId: 'd1', ipAddress: '198.51.100.1', details: { a: 1 }, errorMessage: 'nope', success: false })
    await post({ user_id: 'snake-user', event_type: 'permanent_ban_applied', event_category: 'critical', resource_type: 'account' })
    await post({ token_id: 'test-token', subject: 'user:test', event_type: 'generated', timestamp: 1234567890 })
    const camel = (await t.app.inject('/v1/events?actor_id=camel-user')).json().events[0]
    expect(camel).toMatchObject({ action: 'legacy.camel', resource_type: 'doc', resource_id: 'd1', ip_address: '198.51.100.1', metadata: { a: 1 }, error_message: 'nope', success: false })
    const snake = (await t.app.inject('/v1/events?actor_id=snake-user')).json().events[0]
    expect(snake).toMatchObject({ action: 'permanent_ban_applied', category: 'critical' })
    const token = (await t.app.inject('/v1/events?actor_id=user:test')).json().events[0]
    expect(token).toMatchObject({ action: 'generated', resource_id: 'test-token', occurred_at: '2009-02-13T23:31:30.000Z' })
  })

  it('refuses oversized requests with 413 and a named limit', async () => {
    const tooMany = await post({ events: Array.from({ length: 1001 }, () => ({ action: 'x' })) })
    expect(tooMany.statusCode).toBe(413)
    expect(tooMany.json()).toMatchObject({ code: 'AUDITQ_TOO_MANY_EVENTS', message: expect.stringMatching(/1001.*1000/) })
    const tooBig = await post({ action: 'big', description: 'x'.repeat(300 * 1024) })
    expect(tooBig.statusCode).toBe(413)
    expect(tooBig.json()).toMatchObject({ code: 'AUDITQ_BODY_TOO_LARGE', message: expect.stringMatching(/of \d+ bytes is over the 262144-byte limit/) })
  })

  it('answers a POST without a content type, or with an unsupported one, with 415 naming the accepted types', async () => {
    const send = (headers: Record<string, string>, payload?: string) => t.app.inject({ method: 'POST', url: '/v1/events', headers, ...(payload === undefined ? {} : { payload }) })
    const event = '{"action":"login","actor_id":"content-type-u1"}'
    for (const [headers, payload] of [
      [{}, event],
      [{}, undefined],
      [{ 'content-type': 'text/plain' }, event],
      [{ 'content-type': 'text/plain; charset=utf-8' }, event],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'action=login'],
      [{ 'content-type': 'application/xml' }, '<event/>'],
    ] as const) {
      const response = await send(headers, payload)
      expect(response.statusCode, JSON.stringify(headers)).toBe(415)
      expect(response.json(), JSON.stringify(headers)).toMatchObject({
        code: 'AUDITQ_UNSUPPORTED_MEDIA_TYPE',
        message: expect.stringMatching(/application\/json.*application\/x-ndjson/),
      })
      expect(response.json().message, JSON.stringify(headers)).toContain(headers['content-type' as keyof typeof headers] ?? 'no Content-Type')
    }
    expect((await t.app.inject('/v1/events?actor_id=content-type-u1')).json().events).toEqual([])
    // The accepted types, with parameters and in any case, still work.
    expect((await send({ 'content-type': 'Application/JSON; charset=utf-8' }, event)).statusCode).toBe(202)
    expect((await send({ 'content-type': 'application/x-ndjson' }, event + '\n')).statusCode).toBe(202)
  })

  it('answers malformed requests with 4xx and a code, never 5xx', async () => {
    expect((await post('{"action":', 'application/json')).json()).toMatchObject({ statusCode: 400, code: 'AUDITQ_BAD_REQUEST' })
    expect((await post('action=login', 'application/x-www-form-urlencoded')).statusCode).toBe(415)
    expect((await post({ events: [] })).json()).toMatchObject({ statusCode: 400, code: 'AUDITQ_VALIDATION' })
    const badQueries = ['/v1/events?limit=0', '/v1/events?limit=1001', '/v1/events?actor=u1', '/v1/events?success=yes', '/v1/events?from=yesterday', '/v1/events?cursor=abc', '/v1/events?actor_id=a&actor_id=b', '/v1/events/not-a-uuid']
    for (const url of badQueries) {
      const response = await t.app.inject(url)
      expect(response.statusCode, url).toBe(400)
      expect(response.json().code, url).toBe('AUDITQ_BAD_REQUEST')
    }
    expect((await t.app.inject(`/v1/events/${uuidv7()}`)).json()).toMatchObject({ statusCode: 404, code: 'AUDITQ_NOT_FOUND' })
    // Found by fuzzing: router-level refusals and well-shaped cursors holding impossible dates.
    for (const url of ['/v1/events/' + 'a'.repeat(150), '/v1/events/%E0%A4%A']) {
      expect((await t.app.inject(url)).json(), url).toMatchObject({ statusCode: 400, code: 'AUDITQ_BAD_REQUEST' })
    }
    for (const t_ of ['2026-13-01T99:00:00.000Z', '0000-01-01T00:00:00.000Z']) {
      const impossible = Buffer.from(JSON.stringify({ v: 1, t: t_, i: uuidv7() })).toString('base64url')
      expect((await t.app.inject(`/v1/events?cursor=${impossible}`)).json(), t_).toMatchObject({ statusCode: 400, code: 'AUDITQ_BAD_REQUEST' })
    }
    // Also found by fuzzing, on PostgreSQL: bounds outside 1970–9999 and NUL in a filter were 500s.
    for (const query of ['from=-8640000000000000', 'to=8640000000000000', 'from=0000-01-01', 'actor_id=a%00b']) {
      for (const path of ['/v1/events', '/v1/events/export']) {
        const response = await t.app.inject(`${path}?${query}`)
        expect(response.statusCode, `${path}?${query}`).toBe(400)
        expect(response.json().details[0].field).toBe(query.split('=')[0])
      }
    }
    expect((await t.app.inject('/nope')).statusCode).toBe(404)
  })

  it('pages with next_cursor until every matching event is seen once', async () => {
    const events = Array.from({ length: 45 }, (_, i) => ({ action: 'page.test', actor_id: `p${i}` }))
    expect((await post({ events })).statusCode).toBe(202)
    const seen: string[] = []
    let url = '/v1/events?action=page.test&limit=10'
    for (;;) {
      const page = (await t.app.inject(url)).json()
      seen.push(...page.events.map((e: { actor_id: string }) => e.actor_id))
      if (!page.next_cursor) break
      url = `/v1/events?action=page.test&limit=10&cursor=${page.next_cursor}`
    }
    expect(seen.sort()).toEqual(events.map((e) => e.actor_id).sort())
  })

  it('exports NDJSON and CSV with the same filters', async () => {
    await post({ events: [{ action: 'export.test', actor_id: '=cmd()' }, { action: 'export.test', actor_id: 'plain' }] })
    const ndjson = await t.app.inject('/v1/events/export?format=ndjson&action=export.test')
    expect(ndjson.headers['content-type']).toMatch(/ndjson/)
    const lines = ndjson.body.trim().split('\n').map((line) => JSON.parse(line))
    expect(lines.map((e) => e.actor_id).sort()).toEqual(['=cmd()', 'plain'])
    const csv = await t.app.inject('/v1/events/export?format=csv&action=export.test')
    const rows = csv.body.trim().split('\r\n')
    expect(rows[0]).toMatch(/^id,tenant_id,occurred_at/)
    expect(rows).toHaveLength(3)
    expect(csv.body).toContain(",'=cmd(),")
    expect((await t.app.inject('/v1/events/export?format=xml')).statusCode).toBe(400)
  })

  it('reports health with the store connected', async () => {
    const response = await t.app.inject('/api/v1/monitoring/health')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ status: 'healthy', services: { store: 'connected' } })
  })
})

describe('health when the store is gone', () => {
  it('answers 503 critical', async () => {
    const t = await startApp('embedded')
    await t.store.close()
    const response = await t.app.inject('/api/v1/monitoring/health')
    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ status: 'critical', services: { store: 'unreachable' } })
    await t.close()
  })
})
