/**
 * Every limit the service enforces, hit over HTTP: each refusal names the limit and the value it
 * saw, with a catalog code, and costs the server a bounded amount of work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../support/app.js'

let t: TestApp
beforeAll(async () => {
  t = await startApp('embedded', { http: { bodyLimitBytes: 64 * 1024, maxEventsPerRequest: 10, maxNdjsonLineBytes: 1024, maxQueryLimit: 50 } })
})
afterAll(async () => t?.close())

const ingest = (payload: unknown) => t.app.inject({ method: 'POST', url: '/v1/events', payload: payload as Record<string, unknown> })

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 }
  for (let i = 1; i < levels; i++) value = { child: value }
  return value
}

describe('limits name the limit and the value seen', () => {
  it.each([
    ['body size', () => t.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ action: 'a', description: 'x'.repeat(70_000) }) }), 413, 'AUDITQ_BODY_TOO_LARGE', /of 70\d{3} bytes is over the 65536-byte limit/],
    ['events per request', () => ingest({ events: Array.from({ length: 11 }, () => ({ action: 'a' })) }), 413, 'AUDITQ_TOO_MANY_EVENTS', /holds 11 events; the limit is 10/],
    ['query limit', () => t.app.inject({ method: 'GET', url: '/v1/events?limit=51' }), 400, 'AUDITQ_BAD_REQUEST', /from 1 to 50; got "51"/],
  ] as const)('%s', async (_name, send, status, code, message) => {
    const response = await send()
    expect(response.statusCode).toBe(status)
    expect(response.json()).toMatchObject({ code, message: expect.stringMatching(message) })
  })

  it.each([
    ['a text field', { action: 'a', actor_id: 'u'.repeat(300) }, 'actor_id', 'max_length', /at most 256 characters; got 300/],
    ['a text field counted in characters', { action: 'a', actor_id: '😀'.repeat(257) }, 'actor_id', 'max_length', /at most 256 characters; got 257/],
    ['action', { action: 'a'.repeat(129) }, 'action', 'max_length', /at most 128 characters; got 129/],
    ['tenant', { action: 'a', tenant_id: 't'.repeat(200) }, 'tenant_id', 'max_length', /at most 128 characters; got 200/],
    ['metadata size', { action: 'a', metadata: { blob: 'b'.repeat(20_000) } }, 'metadata', 'max_bytes', /at most 16384 bytes .*; got at least 2\d{4}/],
    ['metadata depth', { action: 'a', metadata: nested(10) }, 'metadata.child.child.child.child.child.child.child.child', 'max_depth', /reaches nesting level 9; the limit is 8/],
    ['ip address length', { action: 'a', ip_address: '1'.repeat(65) }, 'ip_address', 'ip_address', /is 65 characters.*at most 64/],
  ] as const)('%s', async (_name, event, field, rule, message) => {
    const response = await ingest(event)
    expect(response.statusCode).toBe(400)
    const errors = response.json().details.rejected[0].errors as { field: string; rule: string; message: string }[]
    expect(errors).toContainEqual({ field, rule, message: expect.stringMatching(message) })
  })

  it('NDJSON line length', async () => {
    const lines = [JSON.stringify({ action: 'ok' }), JSON.stringify({ action: 'a', description: 'd'.repeat(1_100) })].join('\n')
    const response = await t.app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/x-ndjson' }, payload: lines })
    expect(response.statusCode).toBe(202)
    expect(response.json().rejected).toEqual([{ index: 1, errors: [{ field: '(line)', rule: 'max_line_bytes', message: expect.stringMatching(/line is 11\d\d bytes; the limit is 1024/) }] }])
  })

  it('a 10 MB body is refused by the body limit before it is parsed', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/events', payload: { action: 'a', description: 'x'.repeat(10_000_000) } })
    expect(response.statusCode).toBe(413)
    expect(response.json().message).toMatch(/of 100000\d\d bytes is over the 65536-byte limit/)
  })
})
