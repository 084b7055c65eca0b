import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { postgresAvailable } from '../../test/support/services.js'
import { generateKey } from './api-key.js'
import type { KeyStore } from './key-store.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

describe.each(kinds)('key store (%s)', (kind) => {
  let events: TestStore
  let keys: KeyStore
  beforeAll(async () => {
    events = await freshStore(kind)
    keys = events.store.keys
  })
  afterAll(async () => {
    await events?.dispose()
  })

  it('keeps a key by id with its tenant, scopes and hash; lists without hashes; revokes once', async () => {
    expect(await keys.countActive()).toBe(0)
    const one = generateKey()
    const two = generateKey()
    const createdAt = '2026-11-23T10:00:00.000Z'
    await keys.insert({ id: one.keyId, tenant_id: 'acme', scopes: ['ingest', 'read'], name: 'billing', secret_hash: one.secretHash, created_at: createdAt, revoked_at: null })
    await keys.insert({ id: two.keyId, tenant_id: 'globex', scopes: ['admin'], name: null, secret_hash: two.secretHash, created_at: '2026-11-23T11:00:00.000Z', revoked_at: null })
    const found = await keys.findById(one.keyId)
    expect(found).toMatchObject({ id: one.keyId, tenant_id: 'acme', scopes: ['ingest', 'read'], name: 'billing', created_at: createdAt, revoked_at: null })
    expect(Buffer.from(found!.secret_hash).equals(one.secretHash)).toBe(true)
    expect(await keys.findById('0000000000000000')).toBeNull()
    const listed = await keys.list()
    expect(listed.map((k) => k.id)).toEqual([one.keyId, two.keyId])
    expect(listed[0]).not.toHaveProperty('secret_hash')
    expect(await keys.countActive()).toBe(2)
    expect(await keys.revoke(one.keyId, new Date('2026-11-23T12:00:00Z'))).toBe(true)
    expect(await keys.revoke(one.keyId, new Date())).toBe(false)
    expect(await keys.revoke('nope', new Date())).toBe(false)
    expect((await keys.findById(one.keyId))?.revoked_at).toBe('2026-11-23T12:00:00.000Z')
    expect(await keys.countActive()).toBe(1)
  })

  it('refuses a second key with the same id and a hash of the wrong size', async () => {
    const key = generateKey()
    const record = { id: key.keyId, tenant_id: 't', scopes: ['read' as const], name: null, secret_hash: key.secretHash, created_at: new Date().toISOString(), revoked_at: null }
    await keys.insert(record)
    await expect(keys.insert(record)).rejects.toThrow()
    await expect(keys.insert({ ...record, id: generateKey().keyId, secret_hash: Buffer.alloc(5) })).rejects.toThrow()
  })
})
