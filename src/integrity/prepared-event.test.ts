/**
 * The prepared event the queue carries: its canonical form read back by position, and the checks a
 * worker makes before passing the bytes through (a corrupted or edited entry is refused by name).
 */
import { describe, expect, it } from 'vitest'
import { storedEvent } from '../../test/support/events.js'
import { EVENT_FIELDS } from '../event/types.js'
import { canonicalEvent } from './canonical.js'
import { CANONICAL_V2_LENGTH, CANONICAL_V2_POSITIONS, eventFromCanonical, PreparedEventError, prepareEvent, verifyPrepared } from './prepared-event.js'

const full = storedEvent({
  actor_name: 'Ada',
  targets: [{ id: '1', type: 'doc' }],
  changes: { title: { after: 'b', before: 'a' } },
  producer_id: 'sdk-1',
  producer_seq: 12,
  subject_index: 'f'.repeat(64),
  sealed: { ip_address: 'aqe1:k:AAAA' },
  metadata: { b: 1, a: ['x', { d: null, c: 'é"\\' }] },
})

describe('prepared events', () => {
  it('every field sits where CANONICAL_V2_POSITIONS says', () => {
    const fields = JSON.parse(canonicalEvent(full, 2)) as unknown[]
    expect(fields).toHaveLength(CANONICAL_V2_LENGTH)
    for (const field of EVENT_FIELDS) expect([field, fields[CANONICAL_V2_POSITIONS[field]]]).toEqual([field, full[field]])
    expect(new Set(Object.values(CANONICAL_V2_POSITIONS)).size).toBe(EVENT_FIELDS.length)
  })

  it('reads back the event from its canonical form, losslessly', () => {
    expect(eventFromCanonical(prepareEvent(full).canonical)).toEqual(full)
  })

  it('verifies what the producer computed and reads id and tenant from the prefix', () => {
    const prepared = prepareEvent({ ...full, id: full.id.toUpperCase(), tenant_id: 'acme "eu" \\ 1' })
    const verified = verifyPrepared(prepared.canonical, prepared.digest, prepared.search)
    expect(verified).toEqual(prepared)
    expect(verified.id).toBe(full.id.toLowerCase())
    expect(verified.tenant_id).toBe('acme "eu" \\ 1')
  })

  it('refuses edited canonical bytes, a wrong digest, a search document that could break its array, and foreign forms', () => {
    const { digest, search } = prepareEvent(full)
    const canonical = prepareEvent(full).canonical as string
    const refusal = (c: string | Buffer, d: string, s: string) => {
      try {
        verifyPrepared(c, d, s)
        return 'accepted'
      } catch (error) {
        expect(error).toBeInstanceOf(PreparedEventError)
        return (error as Error).message
      }
    }
    expect(refusal(canonical.replace(full.action, 'user.deleted'), digest, search)).toMatch(/^digest: does not match/)
    expect(refusal(canonical, digest.replace(/^./, (c) => (c === '0' ? '1' : '0')), search)).toMatch(/^digest: does not match/)
    expect(refusal(canonical, digest, `${search}","x`)).toMatch(/^search: /)
    expect(refusal(canonicalEvent(full, 1), digest, search)).toMatch(/^canonical: not an auditq.v2 array/)
    expect(refusal(Buffer.from(canonical.replace(full.action, 'user.deleted')), digest, search)).toMatch(/^digest: does not match/)
    expect(refusal(canonical, digest, search)).toBe('accepted')
  })

  it('takes the canonical form as the bytes the queue delivered, tenant in any script, and hands them on undecoded', () => {
    for (const tenant of ['acme', 'café ☕ 東京', 'a "quoted" \\ one']) {
      const prepared = prepareEvent({ ...full, tenant_id: tenant })
      const bytes = Buffer.from(prepared.canonical as string, 'utf8')
      const verified = verifyPrepared(bytes, prepared.digest, prepared.search)
      expect(verified.canonical).toBe(bytes)
      expect({ ...verified, canonical: prepared.canonical }).toEqual(prepared)
      expect(eventFromCanonical(bytes)).toEqual({ ...full, tenant_id: tenant })
    }
  })
})
