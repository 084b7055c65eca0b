import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { OPEN_PRINCIPAL } from '../http/principal.js'
import { generateKey } from './api-key.js'
import type { KeyStore } from './key-store.js'
import { openKeyStore } from './open-key-store.js'
import { createKeyResolver } from './resolver.js'

const asRequest = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as FastifyRequest

describe('key resolver', () => {
  let events: TestStore
  let keys: KeyStore
  beforeAll(async () => {
    events = await freshStore('embedded')
    keys = await openKeyStore(events.location)
  })
  afterAll(async () => {
    await keys?.close()
    await events?.dispose()
  })

  async function addKey(tenant: string) {
    const generated = generateKey()
    await keys.insert({ id: generated.keyId, tenant_id: tenant, scopes: ['read'], name: null, secret_hash: generated.secretHash, created_at: new Date().toISOString(), revoked_at: null })
    return generated
  }

  it('runs open while no key exists, closes within the TTL once one does, and stays closed after the last is revoked', async () => {
    let clock = 0
    let keyedCalls = 0
    const resolver = createKeyResolver({ keys, cacheTtlMs: 10_000, now: () => clock, onKeyed: () => (keyedCalls += 1) })
    expect(await resolver.resolve(asRequest())).toBe(OPEN_PRINCIPAL)
    const { key, keyId } = await addKey('acme')
    clock = 9_999 // still within the TTL of the last "no keys" answer
    expect(await resolver.resolve(asRequest())).toBe(OPEN_PRINCIPAL)
    clock = 10_000
    await expect(resolver.resolve(asRequest())).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
    expect(keyedCalls).toBe(1)
    expect(await resolver.resolve(asRequest(`Bearer ${key}`))).toMatchObject({ keyId, tenantId: 'acme' })
    await keys.revoke(keyId, new Date())
    clock = 30_000
    expect(await keys.countActive()).toBe(0)
    await expect(resolver.resolve(asRequest())).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
    expect(await resolver.isOpen()).toBe(false)
  })

  it('accepts a revoked key for at most the cache TTL', async () => {
    let clock = 0
    const resolver = createKeyResolver({ keys, cacheTtlMs: 10_000, now: () => clock })
    const { key, keyId } = await addKey('acme')
    expect(await resolver.resolve(asRequest(`Bearer ${key}`))).toMatchObject({ tenantId: 'acme' })
    await keys.revoke(keyId, new Date())
    clock = 9_999
    expect(await resolver.resolve(asRequest(`Bearer ${key}`))).toMatchObject({ tenantId: 'acme' })
    clock = 10_000
    await expect(resolver.resolve(asRequest(`Bearer ${key}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
  })

  it('refuses malformed headers with 401 and never quotes them back', async () => {
    await addKey('acme')
    const resolver = createKeyResolver({ keys, cacheTtlMs: 0 })
    const { key } = generateKey() // well-formed, never stored
    for (const header of ['', 'Basic abc', `Bearer`, `Bearer ${key} ${key}`, `Token ${key}`, 'Bearer ' + 'a'.repeat(100_000), `Bearer ${key}`]) {
      const error = await resolver.resolve(asRequest(header)).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      expect((error as Error).message).not.toContain(key.slice(20))
    }
  })

  it('keeps at most maxCachedKeys ids in memory under a flood of made-up keys', async () => {
    await addKey('acme')
    const resolver = createKeyResolver({ keys, cacheTtlMs: 60_000, maxCachedKeys: 50 })
    for (let i = 0; i < 500; i++) await resolver.resolve(asRequest(`Bearer ${generateKey().key}`)).catch(() => undefined)
    // A real key still works after the flood evicted everything else.
    const real = await addKey('acme')
    expect(await resolver.resolve(asRequest(`Bearer ${real.key}`))).toMatchObject({ keyId: real.keyId })
  })

  it('answers 503 (retryable), not 500, when the key store cannot be reached', async () => {
    const broken: KeyStore = { ...keys, countActive: () => Promise.reject(new Error('connection refused')), findById: () => Promise.reject(new Error('down')) }
    const resolver = createKeyResolver({ keys: broken, cacheTtlMs: 0 })
    await expect(resolver.resolve(asRequest('Bearer x'))).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
  })
})
