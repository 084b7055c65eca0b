import { describe, expect, it } from 'vitest'
import { blindIndex, indexKey, keyEncryptionKey, masterKeyId, newDataKey, newKeyId, openValue, sealedKeyId, sealValue, unwrapKey, wrapKey } from './crypto.js'

const master = Buffer.alloc(32, 7)
const otherMaster = Buffer.alloc(32, 8)

describe('sealed values', () => {
  it('open under their key, in their event and field, to the JSON value sealed', () => {
    const key = newDataKey()
    const id = newKeyId()
    for (const value of ['203.0.113.9', { nested: [1, 'two'] }, 42]) {
      const sealed = sealValue(key, id, value, { event_id: 'e1', path: 'ip_address' })
      expect(sealed).toMatch(new RegExp(`^aqe1:${id}:[A-Za-z0-9_-]+$`))
      expect(sealedKeyId(sealed)).toBe(id)
      expect(openValue(key, sealed, { event_id: 'e1', path: 'ip_address' })).toEqual(value)
    }
  })

  it('never seal the same value to the same text twice (random IV)', () => {
    const key = newDataKey()
    expect(sealValue(key, 'k', 'x', { event_id: 'e', path: 'p' })).not.toBe(sealValue(key, 'k', 'x', { event_id: 'e', path: 'p' }))
  })

  it('refuse to open under another key, in another event or field, or when altered', () => {
    const key = newDataKey()
    const sealed = sealValue(key, 'k1', 'secret', { event_id: 'e1', path: 'user_agent' })
    expect(() => openValue(newDataKey(), sealed, { event_id: 'e1', path: 'user_agent' })).toThrow()
    expect(() => openValue(key, sealed, { event_id: 'e2', path: 'user_agent' })).toThrow()
    expect(() => openValue(key, sealed, { event_id: 'e1', path: 'ip_address' })).toThrow()
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.at(-1)
    expect(() => openValue(key, flipped, { event_id: 'e1', path: 'user_agent' })).toThrow()
    expect(() => openValue(key, sealed.replace('k1', 'k2'), { event_id: 'e1', path: 'user_agent' })).toThrow()
  })
})

describe('wrapped data keys', () => {
  it('unwrap only under the same master key and for the same row', () => {
    const dataKey = newDataKey()
    const where = { key_id: 'k', tenant_id: 't', subject_index: 'i' }
    const wrapped = wrapKey(keyEncryptionKey(master), dataKey, where)
    expect(unwrapKey(keyEncryptionKey(master), wrapped, where).equals(dataKey)).toBe(true)
    expect(() => unwrapKey(keyEncryptionKey(otherMaster), wrapped, where)).toThrow()
    expect(() => unwrapKey(keyEncryptionKey(master), wrapped, { ...where, subject_index: 'j' })).toThrow()
    expect(() => unwrapKey(keyEncryptionKey(master), wrapped, { ...where, tenant_id: 'u' })).toThrow()
  })

  it('name their master key by a fingerprint that differs between keys and reveals neither', () => {
    expect(masterKeyId(master)).toMatch(/^[0-9a-f]{16}$/)
    expect(masterKeyId(master)).toBe(masterKeyId(Buffer.alloc(32, 7)))
    expect(masterKeyId(master)).not.toBe(masterKeyId(otherMaster))
  })
})

describe('blind index', () => {
  it('is equal for equal values, differs between values and between keys', () => {
    const a = indexKey(Buffer.alloc(32, 1))
    const b = indexKey(Buffer.alloc(32, 2))
    expect(blindIndex(a, 'user-1')).toBe(blindIndex(a, 'user-1'))
    expect(blindIndex(a, 'user-1')).toMatch(/^[0-9a-f]{64}$/)
    expect(blindIndex(a, 'user-1')).not.toBe(blindIndex(a, 'user-2'))
    expect(blindIndex(a, 'user-1')).not.toBe(blindIndex(b, 'user-1'))
  })
})
