import { describe, expect, it } from 'vitest'
import { generateKey, hashSecret, parseKey, parseScopes, secretMatches } from './api-key.js'

describe('API keys', () => {
  it('are aq_<16 hex id>_<43-char base64url secret>, different every time, and parse back', () => {
    const a = generateKey()
    const b = generateKey()
    expect(a.key).toMatch(/^aq_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/)
    expect(a.key).not.toBe(b.key)
    const parsed = parseKey(a.key)!
    expect(parsed.keyId).toBe(a.keyId)
    expect(hashSecret(parsed.secret).equals(a.secretHash)).toBe(true)
  })

  it('store only a 32-byte hash that does not contain the secret', () => {
    const { key, secretHash } = generateKey()
    expect(secretHash).toHaveLength(32)
    expect(secretHash.toString('latin1')).not.toContain(key.slice(20))
  })

  it('match only the exact secret, and never a missing record', () => {
    const { key, secretHash } = generateKey()
    const { secret } = parseKey(key)!
    expect(secretMatches(secret, secretHash)).toBe(true)
    expect(secretMatches(secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A'), secretHash)).toBe(false)
    expect(secretMatches(secret, undefined)).toBe(false)
    expect(secretMatches(secret, Buffer.alloc(3))).toBe(false)
    // The all-zero stand-in for a missing record matches nothing, not even a secret hashing to it.
    expect(secretMatches(secret, Buffer.alloc(32))).toBe(false)
  })

  it('refuse anything not shaped like a key, without scanning huge input', () => {
    for (const text of ['', 'aq_', 'Bearer x', 'aq_0123456789abcdef_short', 'aq_0123456789ABCDEF_' + 'a'.repeat(43), 'aq_0123456789abcdef_' + 'a'.repeat(44), 'x'.repeat(1_000_000)]) {
      expect(parseKey(text)).toBeUndefined()
    }
  })

  it('scopes: a comma-separated subset of ingest, read, admin', () => {
    expect(parseScopes('ingest, read,read')).toEqual(['ingest', 'read'])
    expect(() => parseScopes('ingest,write')).toThrow(/--scopes/)
    expect(() => parseScopes(' , ')).toThrow(/--scopes/)
  })
})
