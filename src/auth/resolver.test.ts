import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { OPEN_PRINCIPAL } from './principal.js'
import { generateKey } from './api-key.js'
import type { KeyStore } from './key-store.js'
import { createKeyResolver } from './resolver.js'

const asRequest = (authorization?: string, host = '127.0.0.1:3000') =>
  ({ headers: authorization === undefined ? { host } : { host, authorization } }) as FastifyRequest

describe('key resolver', () => {
  let events: TestStore
  let keys: KeyStore
  beforeAll(async () => {
    events = await freshStore('embedded')
    keys = events.store.keys
  })
  afterAll(async () => {
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

  it('in open mode answers only requests addressed to a loopback host (a DNS-rebinding page is refused)', async () => {
    const own = await freshStore('embedded')
    const noKeys = own.store.keys
    try {
      const resolver = createKeyResolver({ keys: noKeys, cacheTtlMs: 10_000 })
      for (const host of ['127.0.0.1:3000', 'localhost:3000', 'LOCALHOST', '[::1]:3000', '127.0.0.5']) {
        expect(await resolver.resolve(asRequest(undefined, host)), host).toBe(OPEN_PRINCIPAL)
      }
      for (const host of ['rebind.evil.example:3000', '10.0.0.5:3000', '127.0.0.1.evil.example', '', '[::2]:3000']) {
        await expect(resolver.resolve(asRequest(undefined, host)), host).rejects.toMatchObject({ code: 'AUDITQ_FORBIDDEN' })
      }
      // --insecure: the operator chose to expose the open service (behind a proxy, say).
      const insecure = createKeyResolver({ keys: noKeys, cacheTtlMs: 10_000, openRequiresLoopbackHost: false })
      expect(await insecure.resolve(asRequest(undefined, 'rebind.evil.example'))).toBe(OPEN_PRINCIPAL)
    } finally {
      await own.dispose()
    }
  })

  it('closes even when a key was created and revoked between two checks', async () => {
    const own = await freshStore('embedded')
    const ownKeys = own.store.keys
    try {
      let clock = 0
      const resolver = createKeyResolver({ keys: ownKeys, cacheTtlMs: 10_000, now: () => clock })
      expect(await resolver.isOpen()).toBe(true)
      const generated = generateKey()
      await ownKeys.insert({ id: generated.keyId, tenant_id: 'acme', scopes: ['read'], name: null, secret_hash: generated.secretHash, created_at: new Date().toISOString(), revoked_at: null })
      await ownKeys.revoke(generated.keyId, new Date())
      clock = 10_000
      expect(await resolver.isOpen()).toBe(false)
      await expect(resolver.resolve(asRequest())).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
    } finally {
      await own.dispose()
    }
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
    const broken: KeyStore = { ...keys, countActive: () => Promise.reject(new Error('connection refused')), countAll: () => Promise.reject(new Error('connection refused')), findById: () => Promise.reject(new Error('down')) }
    const resolver = createKeyResolver({ keys: broken, cacheTtlMs: 0 })
    await expect(resolver.resolve(asRequest('Bearer x'))).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
  })

  describe('while the key store cannot answer', () => {
    /** The real key store behind a switch: `down` makes every call fail as a dead database would. */
    function switchable(inner: KeyStore) {
      const state = { down: false, calls: 0 }
      const gate = <T>(call: () => Promise<T>) => {
        state.calls += 1
        return state.down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : call()
      }
      const store: KeyStore = { ...inner, findById: (id) => gate(() => inner.findById(id)), countAll: () => gate(() => inner.countAll()) }
      return { store, state }
    }

    it('keeps accepting a verified key for up to maxStaleMs past its TTL, then answers 503; a never-seen key gets 503 at once', async () => {
      await addKey('acme')
      const { store, state } = switchable(keys)
      let clock = 0
      const resolver = createKeyResolver({ keys: store, cacheTtlMs: 1_000, maxStaleMs: 60_000, now: () => clock })
      const verified = await addKey('acme')
      const neverSeen = await addKey('acme')
      expect(await resolver.resolve(asRequest(`Bearer ${verified.key}`))).toMatchObject({ keyId: verified.keyId })
      state.down = true
      clock = 60_999 // TTL + maxStaleMs - 1
      expect(await resolver.resolve(asRequest(`Bearer ${verified.key}`))).toMatchObject({ keyId: verified.keyId })
      await expect(resolver.resolve(asRequest(`Bearer ${neverSeen.key}`))).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
      // A made-up secret for the verified id is still refused: the stale entry holds the hash.
      const forged = `aq_${verified.keyId}_${generateKey().key.slice(-43)}`
      await expect(resolver.resolve(asRequest(`Bearer ${forged}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      clock = 61_000
      await expect(resolver.resolve(asRequest(`Bearer ${verified.key}`))).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
      state.down = false
      expect(await resolver.resolve(asRequest(`Bearer ${verified.key}`))).toMatchObject({ keyId: verified.keyId })
    })

    it('keeps refusing keys it knew to be revoked or unknown, and honours a revocation as soon as the store answers again', async () => {
      await addKey('acme')
      const { store, state } = switchable(keys)
      let clock = 0
      const resolver = createKeyResolver({ keys: store, cacheTtlMs: 1_000, maxStaleMs: 60_000, now: () => clock })
      const revoked = await addKey('acme')
      const later = await addKey('acme')
      const { key: unknown } = generateKey()
      await keys.revoke(revoked.keyId, new Date())
      await expect(resolver.resolve(asRequest(`Bearer ${revoked.key}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      await expect(resolver.resolve(asRequest(`Bearer ${unknown}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      expect(await resolver.resolve(asRequest(`Bearer ${later.key}`))).toMatchObject({ keyId: later.keyId })
      state.down = true
      clock = 5_000
      await expect(resolver.resolve(asRequest(`Bearer ${revoked.key}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      await expect(resolver.resolve(asRequest(`Bearer ${unknown}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
      expect(await resolver.resolve(asRequest(`Bearer ${later.key}`))).toMatchObject({ keyId: later.keyId })
      state.down = false
      await keys.revoke(later.keyId, new Date())
      await expect(resolver.resolve(asRequest(`Bearer ${later.key}`))).rejects.toMatchObject({ code: 'AUDITQ_UNAUTHORIZED' })
    })

    it('stays open on the last "no keys" answer for as long as the store is down (open mode never needs the store)', async () => {
      const own = await freshStore('embedded')
      const noKeys = own.store.keys
      try {
        const { store, state } = switchable(noKeys)
        let clock = 0
        const resolver = createKeyResolver({ keys: store, cacheTtlMs: 1_000, maxStaleMs: 60_000, now: () => clock })
        expect(await resolver.resolve(asRequest())).toBe(OPEN_PRINCIPAL)
        state.down = true
        clock = 60_999
        expect(await resolver.resolve(asRequest())).toBe(OPEN_PRINCIPAL)
        clock = 10 * 86_400_000
        expect(await resolver.resolve(asRequest())).toBe(OPEN_PRINCIPAL)
      } finally {
        await own.dispose()
      }
    })

    it('after a failed call asks the store again only once storeRetryMs has passed', async () => {
      await addKey('acme')
      const { store, state } = switchable(keys)
      let clock = 0
      const states: boolean[] = []
      const resolver = createKeyResolver({ keys: store, cacheTtlMs: 1_000, maxStaleMs: 60_000, storeRetryMs: 500, now: () => clock, onStoreState: ({ available }) => states.push(available) })
      const verified = await addKey('acme')
      await resolver.resolve(asRequest(`Bearer ${verified.key}`))
      state.down = true
      clock = 2_000
      const before = state.calls
      for (let i = 0; i < 100; i++) await resolver.resolve(asRequest(`Bearer ${verified.key}`))
      expect(state.calls - before).toBe(1)
      clock = 2_500
      state.down = false
      await resolver.resolve(asRequest(`Bearer ${verified.key}`))
      expect(state.calls - before).toBe(2)
      expect(states).toEqual([false, true])
    })

    it('while a probe of a failing store hangs, other requests for the key are answered from the cache at once', async () => {
      await addKey('acme')
      let release: ((error: Error) => void) | undefined
      let mode: 'up' | 'down' | 'hang' = 'up'
      const store: KeyStore = {
        ...keys,
        countAll: () => keys.countAll(),
        findById: (id) => (mode === 'up' ? keys.findById(id) : mode === 'down' ? Promise.reject(new Error('ECONNREFUSED')) : new Promise((_, reject) => (release = reject))),
      }
      let clock = 0
      const resolver = createKeyResolver({ keys: store, cacheTtlMs: 1_000, maxStaleMs: 60_000, now: () => clock })
      const verified = await addKey('acme')
      await resolver.resolve(asRequest(`Bearer ${verified.key}`))
      mode = 'down'
      clock = 2_000
      expect(await resolver.resolve(asRequest(`Bearer ${verified.key}`))).toMatchObject({ keyId: verified.keyId })
      mode = 'hang'
      const probing = resolver.resolve(asRequest(`Bearer ${verified.key}`))
      const settled = await Promise.race([resolver.resolve(asRequest(`Bearer ${verified.key}`)), new Promise((resolve) => setTimeout(() => resolve('waited'), 500))])
      expect(settled).toMatchObject({ keyId: verified.keyId })
      release!(new Error('Connection terminated due to connection timeout'))
      expect(await probing).toMatchObject({ keyId: verified.keyId })
    })
  })
})
