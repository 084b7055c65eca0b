/**
 * Failed-authentication lockout behind a reverse proxy, over real HTTP. The test connects from
 * 127.0.0.1, which plays the proxy: configured as trusted, the X-Forwarded-For it sends names the
 * client; not trusted, the header is ignored and every request is the proxy's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv, loadConfig } from '../../src/config.js'
import { startKeyedApp, type KeyedApp } from '../support/keyed-app.js'

const CLIENT_A = '203.0.113.7'
const CLIENT_B = '198.51.100.23'
/** Slow refill: a locked-out client stays locked out for the whole test. */
const LOCKOUT = { rateLimitPerSecond: 0, failedAuthPerSecond: 0.01, failedAuthBurst: 30, keyCacheTtlMs: 0 }

let guess = 0
/** A well-formed key nobody holds, each with its own id, so only the address's bucket fills. */
function badKey(): string {
  guess += 1
  return `aq_${guess.toString(16).padStart(16, '0')}_${'G'.repeat(43)}`
}

function get(app: KeyedApp, path: string, options: { key?: string; forwardedFor?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {}
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`
  if (options.forwardedFor !== undefined) headers['x-forwarded-for'] = options.forwardedFor
  return fetch(app.baseUrl + path, { headers })
}

async function statuses(count: number, send: () => Promise<Response>): Promise<number[]> {
  const seen: number[] = []
  for (let i = 0; i < count; i++) seen.push((await send()).status)
  return seen
}

describe('failed-auth lockout behind a trusted proxy', () => {
  let app: KeyedApp
  let keyOfA: string
  beforeAll(async () => {
    app = await startKeyedApp('embedded', { security: { ...LOCKOUT, trustedProxies: ['127.0.0.1'] } })
    keyOfA = (await app.createKey('acme', ['read'])).key
  })
  afterAll(async () => app?.close())

  it('locks out the failing client only: client B and a valid key from client A still get in', async () => {
    const fromA = await statuses(32, () => get(app, '/v1/events', { key: badKey(), forwardedFor: CLIENT_A }))
    expect(fromA).toEqual([...Array(30).fill(401), 429, 429])
    const locked = await get(app, '/v1/events', { key: badKey(), forwardedFor: CLIENT_A })
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await locked.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', details: { burst: 30 } })
    // Another client behind the same proxy is judged on its own failures.
    expect((await get(app, '/v1/events', { key: badKey(), forwardedFor: CLIENT_B })).status).toBe(401)
    // A valid key authenticates from the locked-out client, also through a chain of proxies.
    expect((await get(app, '/v1/events', { key: keyOfA, forwardedFor: CLIENT_A })).status).toBe(200)
    expect((await get(app, '/v1/events', { key: keyOfA, forwardedFor: `10.9.9.9, ${CLIENT_A}` })).status).toBe(200)
    // request.ip is the client: the request log names it, not the proxy.
    expect(app.logText()).toContain(`"remoteAddress":"${CLIENT_A}"`)
  })

  it('counts failures per presented key id as well: one id sprayed from many clients is locked out, its real key is not', async () => {
    const { key, id } = await app.createKey('acme', ['read'], 'sprayed')
    const wrongSecret = (i: number) => `aq_${id}_${String(i).padStart(43, 'W')}`
    const sprayed = await statuses(31, async () => get(app, '/v1/events', { key: wrongSecret(guess++), forwardedFor: `192.0.2.${guess % 250}` }))
    expect(sprayed.slice(0, 30)).toEqual(Array(30).fill(401))
    expect(sprayed[30]).toBe(429)
    expect((await get(app, '/v1/events', { key, forwardedFor: '192.0.2.1' })).status).toBe(200)
  })

  it('tells a bad key on the public health route that it failed, and never counts a probe without a key', async () => {
    const probes = await statuses(40, () => get(app, '/api/v1/monitoring/health', { forwardedFor: '192.0.2.200' }))
    expect(probes.every((status) => status < 400)).toBe(true)
    const told = await get(app, '/api/v1/monitoring/health', { key: badKey(), forwardedFor: '192.0.2.200' })
    expect(told.status).toBe(401)
    expect(await told.json()).toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
    // Forty probes cost the address nothing: it has its whole burst left (29 after the failure above).
    const rest = await statuses(30, () => get(app, '/api/v1/monitoring/health', { key: badKey(), forwardedFor: '192.0.2.200' }))
    expect(rest).toEqual([...Array(29).fill(401), 429])
  })
})

describe('X-Forwarded-For from a source that is not a trusted proxy', () => {
  let app: KeyedApp
  beforeAll(async () => {
    // The proxy setting names another network: 127.0.0.1 is an ordinary client.
    app = await startKeyedApp('embedded', { security: { ...LOCKOUT, trustedProxies: ['10.0.0.0/8'] } })
    await app.createKey('acme', ['read'])
  })
  afterAll(async () => app?.close())

  it('is ignored: made-up client addresses share the real one, and its lockout', async () => {
    const spoofed = await statuses(31, () => get(app, '/v1/events', { key: badKey(), forwardedFor: `192.0.2.${guess % 250}` }))
    expect(spoofed).toEqual([...Array(30).fill(401), 429])
    expect((await get(app, '/v1/events', { key: badKey(), forwardedFor: CLIENT_B })).status).toBe(429)
    expect(app.logText()).not.toContain(`"remoteAddress":"${CLIENT_B}"`)
    expect(app.logText()).toContain('"remoteAddress":"127.0.0.1"')
  })
})

describe('the trusted-proxy setting', () => {
  it('reads AUDITQ_TRUSTED_PROXIES as a comma-separated list, empty by default', () => {
    expect(loadConfig().security.trustedProxies).toEqual([])
    expect(loadConfig(configFromEnv({ AUDITQ_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback' })).security.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', 'loopback'])
  })

  it('refuses an entry that is not an address or CIDR, naming the setting', () => {
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '*']) {
      expect(() => loadConfig(configFromEnv({ AUDITQ_TRUSTED_PROXIES: bad })), bad).toThrow(/security\.trustedProxies\.0: must be an IP address, a CIDR/)
    }
  })
})
