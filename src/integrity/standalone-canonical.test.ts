/**
 * The standalone verifier (tools/verify-bundle.mjs) carries its own copy of every canonical form so
 * an auditor needs nothing else: each must serialize exactly as auditq does, including the cases
 * the fast path and the general path of canonical.ts split on.
 */
import { describe, expect, it } from 'vitest'
import { CANONICAL_SERIALIZERS, CANONICAL_TAGS, canonicalEvent, canonicalTagOf, type CanonicalVersion } from './canonical.js'
import { CANONICAL_FORMS } from '../../tools/verify-bundle.mjs'
import type { AuditEvent } from '../event/types.js'
import { storedEvent } from '../../test/support/events.js'

const base = () => storedEvent({ id: storedEvent().id.toUpperCase(), tenant_id: 'acme', occurred_at: '2026-06-01T12:00:00Z', description: 'd', ip_address: '192.0.2.1' })

const cases: Array<[string, Partial<AuditEvent>]> = [
  ['empty metadata', { metadata: {} }],
  ['sorted plain metadata', { metadata: { a: 1, b: 'x', c: [1, { d: null }] } }],
  ['integer-like keys, which JSON.stringify puts first', { metadata: { b: 1, 10: 'ten', 9: 'nine', a: { 2: true, 1: false } } }],
  ['metadata keys out of order at every depth', { metadata: { z: { y: 1, x: [{ b: 2, a: 1 }] }, a: null } }],
  ['unicode and escapes', { metadata: { 'é': 'ü\u2028', '\u0000k': 'line\nbreak', z: '😀' }, actor_name: 'Zoë \u{1F600} "Q"\n', description: '\ud800 lone' }],
  ['numbers as JSON writes them', { metadata: { big: 1e21, small: 1e-7, neg: -0, frac: 0.1 } }],
  ['targets, with and without a name, keys in any order', { targets: [{ type: 'doc', id: 'd7', name: 'Q3 plan' }, { id: 'f2', type: 'folder' } as never] }],
  ['changes with nested values and null sides', { changes: { title: { before: 'Draft', after: 'Q3' }, acl: { after: { users: [{ role: 'edit', id: 'u2' }], 10: true }, before: null }, n: { before: 1.5, after: null } } }],
  ['sealed and subject index', { sealed: { 'metadata.email': 'aqe1:k1:AAAA', ip_address: 'aqe1:k1:BBBB' }, subject_index: 'ab'.repeat(32), ip_address: null }],
  ['producer fields', { producer_id: 'sdk-01', producer_seq: 9_007_199_254_740_991, actor_name: 'Ada' }],
  ['every added field null', {}],
  ['the added keys absent (an event encoded before they existed)', { actor_name: undefined, targets: undefined, changes: undefined, producer_id: undefined, producer_seq: undefined, sealed: undefined, subject_index: undefined }],
  ['every field at once, objects unsorted', {
    actor_name: 'Ada', targets: [{ type: 't', id: 'i' }], changes: { b: { after: 2, before: 1 }, a: { after: { y: 1, x: 2 }, before: null } },
    producer_id: 'p', producer_seq: 3, sealed: { user_agent: 'aqe1:k:x', actor_id: 'aqe1:k:y' }, subject_index: '0f'.repeat(32), metadata: { é: 1, e: 2, E: 3 },
  }],
]

describe('the standalone verifier serializes events as auditq does', () => {
  it('knows exactly the forms auditq writes', () => {
    expect(Object.keys(CANONICAL_FORMS).sort()).toEqual(Object.values(CANONICAL_TAGS).sort())
    expect(Object.keys(CANONICAL_SERIALIZERS).sort()).toEqual(Object.values(CANONICAL_TAGS).sort())
  })

  for (const version of Object.keys(CANONICAL_TAGS).map(Number) as CanonicalVersion[]) {
    const tag = CANONICAL_TAGS[version]
    it.each(cases)(`${tag}: %s`, (_name, overrides) => {
      const event = { ...base(), ...overrides }
      const expected = canonicalEvent(event, version)
      expect(expected.startsWith(`["${tag}",`)).toBe(true)
      expect(CANONICAL_FORMS[tag]!(event as unknown as Record<string, unknown>)).toBe(expected)
      expect(CANONICAL_SERIALIZERS[tag]!(event)).toBe(expected)
    })
  }

  it('names the tag of a stored version, and a version no form has by a tag no verifier knows', () => {
    expect([canonicalTagOf(1), canonicalTagOf(2), canonicalTagOf('2')]).toEqual(['auditq.v1', 'auditq.v2', 'auditq.v2'])
    expect(canonicalTagOf(7)).toBe('unknown:7')
    expect(CANONICAL_FORMS['unknown:7']).toBeUndefined()
    expect(CANONICAL_SERIALIZERS['unknown:7']).toBeUndefined()
  })

  it('auditq.v2 over the example in docs/integrity.md', () => {
    const event = storedEvent({
      id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70', tenant_id: 'acme', occurred_at: '2026-01-02T03:04:05.678Z', received_at: '2026-01-02T03:04:05.701Z',
      action: 'document.updated', actor_id: 'u1', actor_type: 'user', actor_name: 'Ada Lovelace', resource_type: 'document', resource_id: 'd7',
      targets: [{ type: 'document', id: 'd7', name: 'Q3 plan' }, { type: 'folder', id: 'f2' }], changes: { title: { before: 'Draft', after: 'Q3 plan' } },
      ip_address: '192.0.2.10', producer_id: 'sdk-01', producer_seq: 42, metadata: { b: 1, a: { z: true } },
    })
    expect(CANONICAL_FORMS['auditq.v2']!(event as unknown as Record<string, unknown>)).toBe(
      '["auditq.v2","0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70","acme","2026-01-02T03:04:05.678Z","2026-01-02T03:04:05.701Z","document.updated","info","u1","user","Ada Lovelace","document","d7",[{"id":"d7","name":"Q3 plan","type":"document"},{"id":"f2","type":"folder"}],{"title":{"after":"Q3 plan","before":"Draft"}},true,null,null,"192.0.2.10",null,null,null,null,"sdk-01",42,null,null,{"a":{"z":true},"b":1}]',
    )
  })
})
