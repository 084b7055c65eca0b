import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'

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
