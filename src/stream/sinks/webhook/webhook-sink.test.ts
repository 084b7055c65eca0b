/**
 * The webhook sink against a real local HTTP receiver: signed NDJSON (verified with the exported
 * helper), gzip, the status classes, and the Splunk HEC and Datadog request shapes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../../test/support/events.js'
import { lines, WebhookReceiver } from '../../../../test/support/webhook-receiver.js'
import { jsonRecord, streamFormatters } from '../../format.js'
import { SinkError, type FeedEvent } from '../../sink.js'
import { signWebhook, verifyWebhook } from './signature.js'
import { retryAfterOf, WebhookSink, webhookOptions } from './webhook-sink.js'

const signal = new AbortController().signal
const receivers: WebhookReceiver[] = []
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.kill()))
})

async function receiver(secret: string | null): Promise<WebhookReceiver> {
  const r = new WebhookReceiver(secret)
  await r.start()
  receivers.push(r)
  return r
}

function batch(count: number): FeedEvent[] {
  return Array.from({ length: count }, (_, i) => ({ event: storedEvent({ tenant_id: 'acme', metadata: { i } }), seq: i + 1, hash: 'cd'.repeat(32), cursor: `c${i}` }))
}

function sink(url: string, options: Record<string, string>): WebhookSink {
  return new WebhookSink(webhookOptions(url, 'siem', options, jsonRecord))
}

describe('webhook signature', () => {
  it('verifies its own signature, and refuses a changed body, another secret, a stale timestamp and garbage', () => {
    const body = Buffer.from('{"id":"1"}\n')
    const now = 1_800_000_000
    const header = signWebhook('s3cret', body, now)
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/)
    expect(verifyWebhook({ body, header, secret: 's3cret', nowSeconds: now + 10 })).toEqual({ ok: true, timestamp: now })
    expect(verifyWebhook({ body: '{"id":"2"}\n', header, secret: 's3cret', nowSeconds: now })).toEqual({ ok: false, reason: 'mismatch' })
    expect(verifyWebhook({ body, header, secret: 'other', nowSeconds: now })).toEqual({ ok: false, reason: 'mismatch' })
    expect(verifyWebhook({ body, header, secret: 's3cret', nowSeconds: now + 301 })).toEqual({ ok: false, reason: 'expired' })
    expect(verifyWebhook({ body, header, secret: 's3cret', nowSeconds: now + 301, toleranceSeconds: 600 })).toMatchObject({ ok: true })
    expect(verifyWebhook({ body, header: 't=abc,v1=zz', secret: 's3cret' })).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyWebhook({ body, header: undefined, secret: 's3cret' })).toEqual({ ok: false, reason: 'missing' })
  })

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterOf('7')).toEqual({ retryAfter: 7_000 })
    expect(retryAfterOf(new Date(Date.now() + 60_000).toUTCString()).retryAfter).toBeGreaterThan(55_000)
    expect(retryAfterOf('soon')).toEqual({})
  })
})

describe('webhook sink', () => {
  it('posts signed NDJSON, gzipped on request, one line per event', async () => {
    const r = await receiver('s3cret')
    const events = batch(25)
    await sink(r.url, { secret: 's3cret', gzip: 'true' }).deliver(events, { signal })
    const [request] = r.requests
    expect(request!.headers['content-encoding']).toBe('gzip')
    expect(request!.headers['content-type']).toBe('application/x-ndjson')
    expect(request!.signature).toMatchObject({ ok: true })
    expect(lines(request!.body).map((l) => l['id'])).toEqual(events.map((e) => e.event.id))
    expect(lines(request!.body)[3]).toMatchObject({ seq: 4, tenant_id: 'acme', metadata: { i: 3 } })
  })

  it('retries 408, 429 and 5xx (with Retry-After) and network failures; parks on any other 4xx', async () => {
    const r = await receiver('s')
    r.reactions.push({ status: 429, headers: { 'retry-after': '3' } }, { status: 408 }, { status: 502 }, { status: 404, body: 'no such index' }, { status: 413 })
    const s = sink(r.url, { secret: 's' })
    const outcomes = []
    for (let i = 0; i < 5; i++) outcomes.push(await s.deliver(batch(1), { signal }).catch((error: SinkError) => error.options))
    expect(outcomes).toEqual([
      { retryable: true, status: 429, retryAfterMs: 3_000 },
      { retryable: true, status: 408 },
      { retryable: true, status: 502 },
      { retryable: false, status: 404 },
      { retryable: false, status: 413 },
    ])
    await r.kill()
    await expect(s.deliver(batch(1), { signal })).rejects.toMatchObject({ options: { retryable: true } })
  })

  it('refuses a generic webhook without a secret, naming the option', () => {
    expect(() => webhookOptions('http://x/', 'siem', {}, jsonRecord)).toThrow(expect.objectContaining({ code: 'AUDITQ_STREAM_INVALID', details: [expect.objectContaining({ field: 'secret' })] }))
  })

  it('renders OCSF when the stream asks for it, the event id as metadata.uid', async () => {
    const r = await receiver('s')
    const events = batch(2)
    const ocsf = streamFormatters({ productVersion: '0.0.0' }).ocsf!
    await new WebhookSink(webhookOptions(r.url, 'siem', { secret: 's' }, ocsf)).deliver(events, { signal })
    const [first] = lines(r.requests[0]!.body)
    expect(first).toMatchObject({ class_uid: expect.any(Number), metadata: { uid: events[0]!.event.id } })
  })

  it("speaks Splunk HEC's event endpoint shape and auth header", async () => {
    const r = await receiver(null)
    const events = batch(3)
    await sink(`http://127.0.0.1:${r.port}/services/collector/event`, { preset: 'splunk-hec', token: 'hec-token' }).deliver(events, { signal })
    const [request] = r.requests
    expect(request!.path).toBe('/services/collector/event')
    expect(request!.headers['authorization']).toBe('Splunk hec-token')
    const objects = lines(request!.body)
    expect(objects).toHaveLength(3)
    for (const [i, object] of objects.entries()) {
      expect(Object.keys(object).sort()).toEqual(['event', 'host', 'source', 'sourcetype', 'time'])
      expect(object['time']).toBe(Date.parse(events[i]!.event.occurred_at) / 1000)
      expect(object['sourcetype']).toBe('auditq:event')
      expect((object['event'] as { id: string }).id).toBe(events[i]!.event.id)
    }
  })

  it("speaks Datadog's logs intake v2 shape and DD-API-KEY header", async () => {
    const r = await receiver(null)
    const events = batch(2)
    await sink(`http://127.0.0.1:${r.port}/api/v2/logs`, { preset: 'datadog', token: 'dd-key', gzip: 'true' }).deliver(events, { signal })
    const [request] = r.requests
    expect(request!.headers['dd-api-key']).toBe('dd-key')
    expect(request!.headers['content-type']).toBe('application/json')
    const logs = JSON.parse(request!.body) as Array<Record<string, string>>
    expect(Array.isArray(logs)).toBe(true)
    expect(logs).toHaveLength(2)
    expect(logs[0]).toMatchObject({ ddsource: 'auditq', service: 'auditq', ddtags: 'tenant:acme,category:info,stream:siem' })
    expect(JSON.parse(logs[1]!['message']!)).toMatchObject({ id: events[1]!.event.id, seq: 2 })
  })
})
