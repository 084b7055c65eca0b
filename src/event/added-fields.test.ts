import { describe, expect, it } from 'vitest'
import { REDACTED, redactEvent, redactionPolicy } from './redact.js'
import type { FieldError } from './types.js'
import { validateEvent } from './validate.js'

const receivedAt = new Date('2026-11-23T12:00:00Z')

function accepted(input: Record<string, unknown>) {
  const result = validateEvent(input, { receivedAt })
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.event
}

function refused(input: Record<string, unknown>): Array<Pick<FieldError, 'field' | 'rule'>> {
  const result = validateEvent(input, { receivedAt })
  if (result.ok) throw new Error('accepted')
  return result.errors.map(({ field, rule }) => ({ field, rule }))
}

describe('fields added with auditq.v2: accepted', () => {
  it('stores every added field, objects with sorted keys, changes with both sides', () => {
    const event = accepted({
      action: 'document.updated',
      actor_name: 'Ada Lovelace',
      targets: [{ type: 'document', id: 'd1', name: 'Plan' }, { type: 'folder', id: 42 }],
      changes: { title: { before: 'Draft', after: 'Plan' }, owner: { after: 'u2' } },
      producer_id: 'sdk-01:host.a',
      producer_seq: 7,
      subject_index: 'ab'.repeat(32),
      sealed: { ip_address: 'aqe1:k1:AAAA_-', 'metadata.email': 'aqe1:k1:BBBB' },
    })
    expect(event).toMatchObject({
      actor_name: 'Ada Lovelace',
      targets: [{ id: 'd1', name: 'Plan', type: 'document' }, { id: '42', type: 'folder' }],
      changes: { owner: { after: 'u2', before: null }, title: { after: 'Plan', before: 'Draft' } },
      producer_id: 'sdk-01:host.a',
      producer_seq: 7,
      subject_index: 'ab'.repeat(32),
      sealed: { ip_address: 'aqe1:k1:AAAA_-', 'metadata.email': 'aqe1:k1:BBBB' },
    })
    expect(Object.keys(event.targets![0]!)).toEqual(['id', 'name', 'type'])
    expect(Object.keys(event.changes!)).toEqual(['owner', 'title'])
  })

  it('treats null as absent for every added field', () => {
    const event = accepted({ action: 'a', actor_name: null, targets: null, changes: null, producer_id: null, producer_seq: null, subject_index: null, sealed: null })
    expect(event).toMatchObject({ actor_name: null, targets: null, changes: null, producer_id: null, producer_seq: null, subject_index: null, sealed: null })
  })

  it('a stored event validates again to itself (the Workers consumer re-admits queued events)', () => {
    const event = accepted({ action: 'a', targets: [{ type: 't', id: '1' }], changes: { x: { before: 1, after: 2 } }, producer_id: 'p', producer_seq: 1 })
    const { received_at: at, ...input } = event
    expect(accepted({ ...input, occurred_at: event.occurred_at })).toEqual({ ...event, received_at: receivedAt.toISOString() })
    expect(at).toBe(receivedAt.toISOString())
  })
})

describe('fields added with auditq.v2: refused with the field and rule named', () => {
  it.each([
    [{ actor_name: 'x'.repeat(201) }, 'actor_name', 'max_length'],
    [{ actor_name: 5 }, 'actor_name', 'type'],
    [{ targets: {} }, 'targets', 'type'],
    [{ targets: Array.from({ length: 21 }, (_, i) => ({ type: 't', id: String(i) })) }, 'targets', 'max_items'],
    [{ targets: [{ id: '1' }] }, 'targets[0].type', 'required'],
    [{ targets: [{ type: 't' }] }, 'targets[0].id', 'required'],
    [{ targets: [{ type: 't'.repeat(101), id: '1' }] }, 'targets[0].type', 'max_length'],
    [{ targets: [{ type: 't', id: '1', name: 'n'.repeat(201) }] }, 'targets[0].name', 'max_length'],
    [{ targets: [{ type: 't', id: '1', extra: 1 }] }, 'targets[0].extra', 'unknown_field'],
    [{ targets: ['doc'] }, 'targets[0]', 'type'],
    [{ changes: [] }, 'changes', 'type'],
    [{ changes: { a: 1 } }, 'changes.a', 'type'],
    [{ changes: { a: { from: 1 } } }, 'changes.a.from', 'unknown_field'],
    [{ changes: { a: {} } }, 'changes.a', 'required'],
    [{ changes: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`f${i}`, { after: i }])) }, 'changes', 'max_fields'],
    [{ changes: { a: { after: 'x'.repeat(17_000) } } }, 'changes', 'max_bytes'],
    [{ producer_id: 'p' }, 'producer_seq', 'required_with'],
    [{ producer_seq: 1 }, 'producer_id', 'required_with'],
    [{ producer_id: 'has space', producer_seq: 1 }, 'producer_id', 'pattern'],
    [{ producer_id: 'p'.repeat(101), producer_seq: 1 }, 'producer_id', 'max_length'],
    [{ producer_id: 'p', producer_seq: 0 }, 'producer_seq', 'positive_integer'],
    [{ producer_id: 'p', producer_seq: 1.5 }, 'producer_seq', 'positive_integer'],
    [{ producer_id: 'p', producer_seq: '3' }, 'producer_seq', 'positive_integer'],
    [{ producer_id: 'p', producer_seq: 2 ** 53 }, 'producer_seq', 'positive_integer'],
    [{ subject_index: 'ABC' }, 'subject_index', 'pattern'],
    [{ sealed: 'x' }, 'sealed', 'type'],
    [{ sealed: { ip_address: 'plaintext' } }, 'sealed.ip_address', 'sealed_value'],
    [{ sealed: { 'not a path': 'aqe1:k:AA' } }, 'sealed["not a path"]', 'pattern'],
  ])('%j → %s %s', (fields, field, rule) => {
    expect(refused({ action: 'a', ...fields })).toContainEqual({ field, rule })
  })

  it('a hostile getter fails its own field only', () => {
    const targets = [
      Object.defineProperty({}, 'type', {
        enumerable: true,
        get() {
          throw new Error('boom')
        },
      }),
    ]
    expect(refused({ action: 'a', targets })).toEqual([{ field: 'targets', rule: 'unreadable' }])
  })
})

describe('redaction of changes', () => {
  it('redacts a secret field name on both sides (null stays null) and secrets nested in values, counting each', () => {
    const event = accepted({
      action: 'user.updated',
      changes: { password: { before: 'old', after: 'new' }, api_key: { before: null, after: 'k' }, profile: { before: { token: 't', name: 'a' }, after: { name: 'b' } } },
    })
    const report = redactEvent(event, redactionPolicy())
    expect(event.changes).toEqual({
      api_key: { after: REDACTED, before: null },
      password: { after: REDACTED, before: REDACTED },
      profile: { after: { name: 'b' }, before: { name: 'a', token: REDACTED } },
    })
    expect(report.redactedValues).toBe(4)
  })

  it('leaves changes alone when redaction is off', () => {
    const event = accepted({ action: 'a', changes: { password: { before: 'x', after: 'y' } } })
    redactEvent(event, redactionPolicy({ keys: [] }))
    expect(event.changes).toEqual({ password: { after: 'y', before: 'x' } })
  })
})
