import { describe, expect, it } from 'vitest'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { isSecretKey, REDACTED, redactEvent, redactionPolicy } from './redact.js'
import type { AuditEvent } from './types.js'
import { validateEvent } from './validate.js'

const policy = redactionPolicy()

/** Validating a stored event (minus the server-set received_at) gives it back unchanged. */
function revalidates(event: AuditEvent) {
  const { received_at: receivedAt, ...input } = event
  return validateEvent(input, { receivedAt: new Date(receivedAt) })
}

function validated(input: Record<string, unknown>) {
  const result = validateEvent(input, { receivedAt: new Date('2026-11-23T12:00:00Z') })
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.event
}

describe('metadata redaction', () => {
  it.each([
    'password', 'PASSWORD', 'Password', 'new_password', 'passwordHash', 'db-passwd', 'client_secret', 'secrets', 'accessToken', 'refresh_tokens',
    'api_key', 'apiKey', 'APIKEY', 'X-Api-Key', 'authorization', 'Authorization', 'Cookie', 'set-cookie', 'cookies', 'credit_card', 'creditCardNumber', 'ssn', 'user_ssn',
    'DBPassword', 'AWSSecretAccessKey', 'JWTToken', 'XAPIToken', 'HTTPAuthorization',
  ])('redacts %s', (key) => {
    expect(isSecretKey(key, policy)).toBe(true)
  })

  it.each(['classname', 'lessons', 'passage', 'tokenizer', 'keyboard', 'api', 'card', 'credit', 'author', 'user', 'secretary'])('keeps %s', (key) => {
    expect(isSecretKey(key, policy)).toBe(false)
  })

  it('replaces values at any depth, inside arrays, whatever their type, and counts them', () => {
    const event = validated({
      action: 'login',
      metadata: { user: 'u1', password: 'hunter2', nested: { deeper: [{ token: { a: 1 } }, { ok: 'x', Cookie: ['c=1'] }] }, apiKey: 42 },
    })
    const report = redactEvent(event, policy)
    expect(event.metadata).toEqual({ user: 'u1', password: REDACTED, nested: { deeper: [{ token: REDACTED }, { ok: 'x', Cookie: REDACTED }] }, apiKey: REDACTED })
    expect(report).toEqual({ redactedValues: 4, ipTruncated: false })
    // Still a valid stored event: validation of what we store is a fixed point.
    expect(revalidates(event)).toEqual({ ok: true, event })
  })

  it('follows a configured list, and an empty list turns it off', () => {
    const custom = redactionPolicy({ keys: ['email'] })
    const event = validated({ action: 'a', metadata: { email: 'a@b.c', password: 'kept' } })
    redactEvent(event, custom)
    expect(event.metadata).toEqual({ email: REDACTED, password: 'kept' })
    const off = validated({ action: 'a', metadata: { password: 'p' } })
    expect(redactEvent(off, redactionPolicy({ keys: [] })).redactedValues).toBe(0)
  })

  it('treats a __proto__ key as data', () => {
    const event = validated({ action: 'a', metadata: JSON.parse('{"__proto__": {"token": "t"}}') as Record<string, unknown> })
    redactEvent(event, policy)
    expect(Object.getPrototypeOf(event.metadata)).toBe(Object.prototype)
    expect(JSON.stringify(event.metadata)).toBe('{"__proto__":{"token":"[REDACTED]"}}')
  })
})

describe('IP truncation', () => {
  const truncating = redactionPolicy({ ipTruncation: '24/48' })
  it.each([
    ['192.0.2.77', '192.0.2.0'],
    ['10.1.2.3', '10.1.2.0'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1::'],
    ['2001:db8::1', '2001:db8::'],
    ['::1', '::'],
    ['::ffff:198.51.100.9', '198.51.100.0'],
  ])('%s becomes %s, a value both stores read back unchanged', (sent, stored) => {
    const event = validated({ action: 'a', ip_address: sent })
    redactEvent(event, truncating)
    expect(event.ip_address).toBe(stored)
    expect(revalidates(event)).toEqual({ ok: true, event })
  })

  it('is off by default', () => {
    const event = validated({ action: 'a', ip_address: '192.0.2.77' })
    redactEvent(event, policy)
    expect(event.ip_address).toBe('192.0.2.77')
  })
})

describe('the SDK redacts before storage', () => {
  it('stores [REDACTED], never the secret, and counts it in stats()', async () => {
    const store = new MemoryStore()
    const audit = await createAuditLogger({ store, redaction: { ipTruncation: '24/48' } })
    await audit.log({ action: 'login', ip_address: '203.0.113.5', metadata: { password: 'hunter2', session: { token: 'abc' } } })
    await audit.logBulk([{ action: 'x', metadata: { api_key: 'k' } }])
    const stored = [...store.rows.values()]
    expect(JSON.stringify(stored)).not.toMatch(/hunter2|"abc"|"k"/)
    expect(stored[0]).toMatchObject({ ip_address: '203.0.113.0', metadata: { password: REDACTED, session: { token: REDACTED } } })
    expect(audit.stats()).toMatchObject({ redacted: 3, ipTruncated: 1 })
    await audit.close()
  })
})

describe('redaction verdict cache', () => {
  it('gives a repeated key the same verdict and stays bounded whatever keys arrive', () => {
    const policy = redactionPolicy()
    expect(isSecretKey('accessToken', policy)).toBe(true)
    expect(isSecretKey('accessToken', policy)).toBe(true)
    expect(isSecretKey('classname', policy)).toBe(false)
    expect(isSecretKey('classname', policy)).toBe(false)
    for (let i = 0; i < 10_000; i++) isSecretKey(`key_${i}`, policy)
    expect(policy.verdicts.size).toBeLessThanOrEqual(4_096)
    expect(isSecretKey('user_ssn', policy)).toBe(true)
  })
})
