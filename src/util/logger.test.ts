import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { buildServer } from '../http/server.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { freshStore } from '../../test/support/app.js'
import { createLogger, maskApiKeys } from './logger.js'

/** Collects pino's JSON lines. */
function capture() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''))
      done()
    },
  })
  return { lines, stream }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('service logs', () => {
  it('are JSON lines with the request id, and never carry an event payload at info', async () => {
    const { lines, stream } = capture()
    const logger = createLogger({ level: 'info', destination: stream })
    const t = await freshStore('embedded')
    const audit = await createAuditLogger({ store: t.store, logger })
    const app = await buildServer({ config: loadConfig({ logLevel: 'info' }), audit, logger })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
    })

    const event = { action: 'payment.refund', actor_id: 'actor-7f3k', resource_id: 'invoice-9921', metadata: { card_last4: 'SECRET-4242' } }
    const ok = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-request-id': 'req-logs-1', authorization: 'Bearer sk_live_abc' }, payload: [event] })
    expect(ok.statusCode).toBe(202)
    const bad = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-request-id': 'req-logs-2' }, payload: [{ ...event, action: '' }] })
    expect(bad.statusCode).toBe(400)
    await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-request-id': 'req-logs-3' }, payload: 'not json' })

    const records = lines.map((line) => JSON.parse(line) as { level: number; reqId?: string; msg: string })
    for (const id of ['req-logs-1', 'req-logs-2', 'req-logs-3']) {
      expect(records.filter((r) => r.reqId === id).map((r) => r.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']))
    }
    const all = lines.join('\n')
    for (const secret of ['actor-7f3k', 'invoice-9921', 'SECRET-4242', 'payment.refund', 'sk_live_abc', 'not json']) expect(all).not.toContain(secret)
  })
})

describe('maskApiKeys', () => {
  const key = 'aq_0123456789abcdef_' + 'S'.repeat(43)
  it('masks a key wherever a URL puts it, percent-encoded separators included', () => {
    for (const text of [`/v1/events?api_key=${key}`, `/x?auth=Bearer%20${key}`, `/x?a=%3D${key}`, `/x?k=${key.replace(/_/g, '%5F')}`, `/x?k=${key.replace(/_/g, '%5f')}`]) {
      const masked = maskApiKeys(text)
      expect(masked, text).not.toContain('SSSSSSSS')
      expect(masked, text).toContain('0123456789abcdef')
    }
  })
})
