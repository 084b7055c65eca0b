import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'
import { TokenBuckets } from './rate-limit.js'

describe('token buckets', () => {
  it('allow the burst at once, then the rate, and say when the next token comes', () => {
    let clock = 0
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3, now: () => clock })
    expect([1, 2, 3].map(() => buckets.take('k').ok)).toEqual([true, true, true])
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 })
    expect(buckets.take('other').ok).toBe(true) // callers do not share a bucket
    clock = 500
    expect(buckets.take('k').ok).toBe(true)
    expect(buckets.take('k').ok).toBe(false)
    clock = 60_000
    expect([1, 2, 3, 4].map(() => buckets.take('k').ok)).toEqual([true, true, true, false]) // refills only up to the burst
  })

  it('round Retry-After up to whole seconds at slow rates', () => {
    const buckets = new TokenBuckets({ perSecond: 0.1, burst: 1, now: () => 0 })
    buckets.take('k')
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterSeconds: 10 })
  })

  it('forget the least recently used caller past maxBuckets', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1, maxBuckets: 100, now: () => 0 })
    for (let i = 0; i < 10_000; i++) buckets.take(`caller-${i}`)
    expect(buckets.size).toBe(100)
  })
})

describe('rate limit over HTTP', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startApp('embedded', { security: { rateLimitPerSecond: 0.5, rateLimitBurst: 3 } })
  })
  afterAll(async () => t?.close())

  it('answers 429 AUDITQ_RATE_LIMITED with Retry-After, naming the limit; health probes are never limited', async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await t.app.inject({ method: 'GET', url: '/v1/events?limit=1' })).statusCode)
    expect(statuses).toEqual([200, 200, 200, 429])
    const refused = await t.app.inject({ method: 'POST', url: '/v1/events', payload: { action: 'a' } })
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('2')
    expect(refused.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', message: expect.stringMatching(/burst of 3 requests.*0\.5 per second/), details: { limit_per_second: 0.5, burst: 3, retry_after_seconds: 2 } })
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/monitoring/health' })).statusCode).toBe(200)
    expect(t.app.securityStats().rateLimited).toBe(2)
  })
})

describe('failed authentications per client address', () => {
  it('answer 429 with Retry-After once an address has used its burst of 401s, while a valid key from that address is still accepted', async () => {
    const { startKeyedApp } = await import('../../test/support/keyed-app.js')
    const t = await startKeyedApp('embedded', { security: { rateLimitPerSecond: 0, failedAuthPerSecond: 0.2, failedAuthBurst: 3, keyCacheTtlMs: 0 } })
    try {
      const { key } = await t.createKey('acme', ['read'])
      const get = (authorization?: string) => fetch(`${t.baseUrl}/v1/events`, authorization ? { headers: { authorization } } : {})
      expect((await get(`Bearer ${key}`)).status).toBe(200)
      const guesses = []
      for (let i = 0; i < 4; i++) guesses.push((await get(`Bearer aq_${i.toString(16).padStart(16, '0')}_${'A'.repeat(43)}`)).status)
      expect(guesses).toEqual([401, 401, 401, 429])
      const refused = await get(`Bearer aq_${'e'.repeat(16)}_${'A'.repeat(43)}`)
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await refused.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', details: { burst: 3 } })
      // Others' failures never refuse a valid key.
      expect((await get(`Bearer ${key}`)).status).toBe(200)
      // Requests without a key cost nothing to refuse and are not counted; health probes are never limited.
      expect((await get()).status).toBe(401)
      expect((await fetch(`${t.baseUrl}/api/v1/monitoring/health`)).status).toBeLessThan(500)
    } finally {
      await t.close()
    }
  })
})
