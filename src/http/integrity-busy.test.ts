import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, startApp, type TestApp } from '../../test/support/app.js'
import { loadConfig } from '../config.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import type { Principal, Scope } from '../auth/principal.js'
import { buildServer } from './server.js'

/** A verify reads a whole chain: a second one while the first runs is refused, not queued. */
describe('GET /v1/integrity runs one verification at a time per process', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startApp('embedded')
    await app.app.inject({ method: 'POST', url: '/v1/events', payload: [{ action: 'doc.view' }] })
  })
  afterAll(() => app.close())

  it('answers 429 with Retry-After while another verification holds its snapshot, and runs again after', async () => {
    const integrity = app.audit.store.integrity!
    const original = integrity.snapshot.bind(integrity)
    let release!: () => void
    let entered!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const inside = new Promise<void>((resolve) => (entered = resolve))
    // Hold the first verification inside its snapshot until the second request has been answered.
    integrity.snapshot = (async (fn: Parameters<typeof original>[0]) => original(async (snapshot) => {
      entered()
      await gate
      return fn(snapshot)
    })) as typeof integrity.snapshot
    const first = app.app.inject({ url: '/v1/integrity' })
    await inside
    const second = await app.app.inject({ url: '/v1/integrity' })
    expect(second.statusCode).toBe(429)
    expect(second.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED' })
    expect(second.headers['retry-after']).toBe('5')
    release()
    expect((await first).json()).toMatchObject({ intact: true, events: 1 })
    integrity.snapshot = original
    expect((await app.app.inject({ url: '/v1/integrity' })).statusCode).toBe(200)
  })
})

/** Test principals from headers, standing in for API keys bound to one tenant. */
function tenantPrincipal(request: { headers: Record<string, unknown> }): Principal {
  return { keyId: 'test', tenantId: String(request.headers['x-test-tenant']), scopes: new Set<Scope>(['read', 'ingest']) }
}

describe('GET /v1/integrity is limited per tenant, not across tenants', () => {
  it("gives a tenant 429 only for its own running verification, lets another tenant run, and answers a neutral 503 when the process is full", async () => {
    const { store, dispose } = await freshStore('embedded')
    const logger = createLogger({ level: 'silent' })
    const audit = await createAuditLogger({ store, logger })
    const config = loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 }, reads: { verifyMaxConcurrent: 2 } })
    const app = await buildServer({ config, audit, logger, resolvePrincipal: tenantPrincipal })
    const integrity = store.integrity!
    const original = integrity.snapshot.bind(integrity)
    const held: Array<() => void> = []
    let entered!: () => void
    let inside = new Promise<void>((resolve) => (entered = resolve))
    integrity.snapshot = (async (fn: Parameters<typeof original>[0], options?: Parameters<typeof original>[1]) =>
      original(async (snapshot) => {
        const gate = new Promise<void>((resolve) => held.push(resolve))
        entered()
        await gate
        return fn(snapshot)
      }, options)) as typeof integrity.snapshot
    const as = (tenant: string) => app.inject({ url: '/v1/integrity', headers: { 'x-test-tenant': tenant } })
    try {
      const first = as('acme')
      await inside
      const again = await as('acme')
      expect(again.statusCode).toBe(429)
      expect(again.json()).toMatchObject({ code: 'AUDITQ_RATE_LIMITED', message: expect.stringContaining('"acme"') })
      expect(again.headers['retry-after']).toBe('5')
      // acme's run does not hold globex back.
      inside = new Promise<void>((resolve) => (entered = resolve))
      const second = as('globex')
      await inside
      // Both process slots taken: a third tenant learns only that the service is busy.
      const third = await as('initech')
      expect(third.statusCode).toBe(503)
      expect(third.json()).toMatchObject({ code: 'AUDITQ_BUSY' })
      expect(third.json().message).not.toMatch(/acme|globex|\d+ running/)
      for (const release of held.splice(0)) release()
      expect((await first).statusCode).toBe(200)
      expect((await second).statusCode).toBe(200)
      integrity.snapshot = original
      expect((await as('initech')).statusCode).toBe(200)
    } finally {
      for (const release of held) release()
      await app.close()
      await audit.close()
      await dispose()
    }
  })
})
