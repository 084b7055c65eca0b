/**
 * The standalone verifier (tools/verify-bundle.mjs) carries its own copy of the canonical form so
 * an auditor needs nothing else: it must serialize exactly as auditq does, including the cases the
 * fast path and the general path of canonical.ts split on.
 */
import { describe, expect, it } from 'vitest'
import { CANONICAL_TAGS, canonicalEvent } from './canonical.js'

const CANONICAL_VERSION = CANONICAL_TAGS[1]
import { CANONICAL_FORMS } from '../../tools/verify-bundle.mjs'
import { storedEvent } from '../../test/support/events.js'

describe('the standalone verifier serializes events as auditq does', () => {
  it.each([
    ['empty metadata', {}],
    ['sorted plain metadata', { a: 1, b: 'x', c: [1, { d: null }] }],
    ['integer-like keys, which JSON.stringify puts first', { b: 1, 10: 'ten', 9: 'nine', a: { 2: true, 1: false } }],
    ['unicode and escapes', { 'é': 'ü\u2028', '\u0000k': 'line\nbreak', z: '😀' }],
    ['numbers as JSON writes them', { big: 1e21, small: 1e-7, neg: -0, frac: 0.1 }],
  ])('%s', (_name, metadata) => {
    const event = storedEvent({ id: storedEvent().id.toUpperCase(), tenant_id: 'acme', metadata, occurred_at: '2026-06-01T12:00:00Z', description: 'd', ip_address: '192.0.2.1' })
    expect(CANONICAL_FORMS[CANONICAL_VERSION]!(event as unknown as Record<string, unknown>)).toBe(canonicalEvent(event))
  })
})
