/**
 * Events travel through the queue (Redis stream entries) and the spill journal as JSON. Both carry
 * the fields added with auditq.v2, and both read an entry an older version wrote (without those
 * keys) as an event whose added fields are null: it hashes and stores exactly as it would have.
 */
import { describe, expect, it } from 'vitest'
import { storedEvent } from '../../test/support/events.js'
import { canonicalEvent } from '../integrity/canonical.js'
import { ADDED_FIELDS, type AuditEvent } from '../event/types.js'
import { decodeEvent, encodeEvent } from './redis-streams/codec.js'
import { checkRecord, encodeRecords } from './spill/format.js'

const full = storedEvent({
  actor_name: 'Ada',
  targets: [{ id: '1', type: 'doc' }],
  changes: { title: { after: 'b', before: 'a' } },
  producer_id: 'sdk-1',
  producer_seq: 12,
  subject_index: 'f'.repeat(64),
  sealed: { ip_address: 'aqe1:k:AAAA' },
})

function withoutAddedFields(event: AuditEvent): Record<string, unknown> {
  const old: Record<string, unknown> = { ...event }
  for (const field of ADDED_FIELDS) delete old[field]
  return old
}

function spilled(event: unknown): AuditEvent {
  const check = checkRecord(encodeRecords([event as AuditEvent]))
  if (check.kind !== 'record') throw new Error(`not a record: ${check.kind}`)
  return check.event
}

describe('queue and spill codecs carry the added fields', () => {
  it('a stream entry round-trips every added field', () => {
    expect(decodeEvent(encodeEvent(full))).toEqual(full)
  })

  it('a spilled record round-trips every added field', () => {
    expect(spilled(full)).toEqual(full)
  })

  it('an entry or record an older version wrote reads with the added fields null, hashing as before', () => {
    const old = withoutAddedFields(storedEvent())
    const fromStream = decodeEvent(JSON.stringify(old))!
    const fromSpill = spilled(old)
    for (const event of [fromStream, fromSpill]) {
      for (const field of ADDED_FIELDS) expect(event[field], field).toBeNull()
      expect(canonicalEvent(event)).toBe(canonicalEvent(old as unknown as AuditEvent))
    }
  })
})
