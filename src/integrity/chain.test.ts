import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { storedEvent } from '../../test/support/events.js'
import { noAddedFields, type AuditEvent } from '../event/types.js'
import { createHash } from 'node:crypto'
import { validateEvent } from '../event/validate.js'
import { canonicalEvent, canonicalJson, chainHash, chainHashV1, contentDigest, GENESIS_HASH, linkHash, stringifiesCanonically } from './canonical.js'
import { ChainWalker } from './chain-walker.js'
import { checkpointIsAuthentic, generateSigningKeyPem, parseSigningKey, signCheckpoint } from './checkpoint.js'
import type { ChainRow } from './types.js'

function chain(length: number, tenant = 'acme'): ChainRow[] {
  const rows: ChainRow[] = []
  let prev = GENESIS_HASH
  for (let seq = 1; seq <= length; seq++) {
    const event = storedEvent({ tenant_id: tenant, description: `e${seq}` })
    const hash = chainHash(prev, event)
    rows.push({ seq, prev_hash: prev, hash, event })
    prev = hash
  }
  return rows
}

function walk(rows: ChainRow[], head = rows.at(-1)) {
  const walker = new ChainWalker({ tenant_id: 'acme', cut: null })
  for (const row of rows) if (walker.push(row)) break
  return walker.broken ?? walker.finish(head ? { tenant_id: 'acme', seq: head.seq, hash: head.hash } : null)
}

describe('canonical form', () => {
  it('is independent of metadata key order, integer-like keys included, and keeps explicit nulls', () => {
    expect(canonicalJson({ b: 1, a: { '10': true, '9': null, z: [2, { y: 1, x: 0 }] } })).toBe(
      '{"a":{"10":true,"9":null,"z":[2,{"x":0,"y":1}]},"b":1}',
    )
    const event = storedEvent({ metadata: { b: 1, a: 2 } })
    expect(canonicalEvent(event)).toBe(canonicalEvent({ ...event, metadata: { a: 2, b: 1 } }))
    expect(canonicalEvent(event, 1)).toMatch(/^\["auditq\.v1","[0-9a-f-]{36}","default",".*Z",".*Z","api_key\.created","info","u1",.*,null,null,\{"a":2,"b":1\}\]$/)
  })

  it('writes the same bytes on the JSON.stringify shortcut as through canonicalJson, whatever the metadata', () => {
    // The general path spelled out: the event with null metadata, and canonicalJson's form in its place.
    const general = (event: AuditEvent) => `${canonicalEvent({ ...event, metadata: null as never }).slice(0, -'null]'.length)}${canonicalJson(event.metadata)}]`
    const key = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('10', '9', '0', '01', '!', 'a', 'B', 'é', '\u{1F600}', '__proto__', 'toJSON'))
    const metadata = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constantFrom(null, undefined, () => 1)),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 5 }),
      ),
    })).value
    const event = storedEvent()
    let shortcut = 0
    fc.assert(
      fc.property(fc.dictionary(key, metadata, { maxKeys: 6 }), fc.boolean(), (raw, sorted) => {
        // Sorted as validation sorts (event/metadata.ts), or left in whatever order it came.
        const value = sorted ? JSON.parse(JSON.stringify(raw, (_, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v))) : raw
        if (stringifiesCanonically(value)) shortcut += 1
        const withMetadata = { ...event, metadata: value as Record<string, unknown> }
        expect(canonicalEvent(withMetadata)).toBe(general(withMetadata))
      }),
      { numRuns: 2_000 },
    )
    // Both paths were exercised.
    expect(shortcut).toBeGreaterThan(200)
    expect(shortcut).toBeLessThan(2_000)
  })

  it('takes the shortcut for validated metadata, and not for orders or values JSON.stringify would change', () => {
    const validated = validateEvent(
      { action: 'user.login', actor_id: 'u1', metadata: { zeta: 1, alpha: { y: [{ b: 1, a: 2 }], x: 'x' }, when: new Date(0) } },
      { defaultTenant: 'default', receivedAt: new Date() },
    )
    if (!validated.ok) throw new Error('fixture invalid')
    expect(Object.keys(validated.event.metadata)).toEqual(['alpha', 'when', 'zeta'])
    expect(stringifiesCanonically(validated.event.metadata)).toBe(true)
    expect(stringifiesCanonically({ b: 1, a: 2 })).toBe(false)
    // jsonb's order (shorter keys first) and integer-like keys, which JSON.stringify always puts first.
    expect(stringifiesCanonically({ b: 1, aa: 2 })).toBe(false)
    expect(stringifiesCanonically({ aa: 2, b: 1 })).toBe(true)
    expect(stringifiesCanonically({ b: 1, aa: { z: 1, y: 2 } })).toBe(false)
    expect(stringifiesCanonically({ '10': 1, '9': 2 })).toBe(false)
    expect(stringifiesCanonically({ a: new Date(0) })).toBe(false)
    expect(stringifiesCanonically({ a: undefined })).toBe(false)
    expect(stringifiesCanonically([{ a: 1 }, new Map()])).toBe(false)
  })

  it('normalizes timestamps to milliseconds in UTC', () => {
    const event = storedEvent({ occurred_at: '2026-01-02T03:04:05.678Z' })
    expect(canonicalEvent({ ...event, occurred_at: '2026-01-02T04:04:05.678+01:00' })).toBe(canonicalEvent(event))
  })

  it('matches the documented example byte for byte (values checked with sha256sum, docs/integrity.md)', () => {
    const event: AuditEvent = {
      id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70',
      tenant_id: 'acme',
      occurred_at: '2026-01-02T03:04:05.678Z',
      received_at: '2026-01-02T03:04:05.701Z',
      action: 'user.login',
      category: 'info',
      actor_id: 'u1',
      actor_type: 'user',
      resource_type: null,
      resource_id: null,
      success: true,
      error_message: null,
      description: null,
      ip_address: '192.0.2.10',
      user_agent: null,
      session_id: null,
      request_id: null,
      client_id: null,
      metadata: { b: 1, a: { z: true } },
      ...noAddedFields(),
    }
    expect(canonicalEvent(event, 1)).toBe(
      '["auditq.v1","0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70","acme","2026-01-02T03:04:05.678Z","2026-01-02T03:04:05.701Z","user.login","info","u1","user",null,null,true,null,null,"192.0.2.10",null,null,null,null,{"a":{"z":true},"b":1}]',
    )
    expect(contentDigest(event, 1).toString('hex')).toBe('ceadcdf331227a7f16b22b998009f67d83babd2ed710c23ed68f3ae2b742f0a7')
    expect(chainHash(GENESIS_HASH, event, 1)).toBe('6deaf9fdd7d719feb075853b6bdbaa57d258d287767b5c50672316beb0fd0f09')
  })

  it('matches the documented auditq.v2 example byte for byte (values checked with sha256sum, docs/integrity.md)', () => {
    const event: AuditEvent = {
      id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70',
      tenant_id: 'acme',
      occurred_at: '2026-01-02T03:04:05.678Z',
      received_at: '2026-01-02T03:04:05.701Z',
      action: 'document.updated',
      category: 'info',
      actor_id: 'u1',
      actor_type: 'user',
      resource_type: 'document',
      resource_id: 'd7',
      success: true,
      error_message: null,
      description: null,
      ip_address: '192.0.2.10',
      user_agent: null,
      session_id: null,
      request_id: null,
      client_id: null,
      metadata: { b: 1, a: { z: true } },
      actor_name: 'Ada Lovelace',
      // Keys in the caller's order: the canonical form sorts them.
      targets: [{ type: 'document', id: 'd7', name: 'Q3 plan' }, { type: 'folder', id: 'f2' }],
      changes: { title: { before: 'Draft', after: 'Q3 plan' } },
      producer_id: 'sdk-01',
      producer_seq: 42,
      subject_index: null,
      sealed: null,
    }
    expect(canonicalEvent(event)).toBe(
      '["auditq.v2","0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70","acme","2026-01-02T03:04:05.678Z","2026-01-02T03:04:05.701Z","document.updated","info","u1","user","Ada Lovelace","document","d7",[{"id":"d7","name":"Q3 plan","type":"document"},{"id":"f2","type":"folder"}],{"title":{"after":"Q3 plan","before":"Draft"}},true,null,null,"192.0.2.10",null,null,null,null,"sdk-01",42,null,null,{"a":{"z":true},"b":1}]',
    )
    expect(contentDigest(event).toString('hex')).toBe('9b18b35aa24bb967a405403195b2833b3b5909b7648645a2b44c823da44349ae')
    expect(chainHash(GENESIS_HASH, event)).toBe('7c34989b2e0da9369cccd0bac669afd5bfe42334c20bdfedcfd7af30df61f3a6')
    // The same event under auditq.v1 is another string: a row's recorded version cannot be swapped unnoticed.
    expect(chainHash(GENESIS_HASH, event, 1)).not.toBe(chainHash(GENESIS_HASH, event))
  })

  it('hashes every added field: changing any one changes the digest', () => {
    const base = storedEvent({ producer_id: 'p1', producer_seq: 1 })
    const variants: Array<Partial<AuditEvent>> = [
      { actor_name: 'Grace' },
      { targets: [{ type: 'doc', id: '1' }] },
      { changes: { a: { before: 1, after: 2 } } },
      { producer_id: 'p2' },
      { producer_seq: 2 },
      { subject_index: 'a'.repeat(64) },
      { sealed: { ip_address: 'aqe1:k1:AAAA' } },
    ]
    const digests = new Set([contentDigest(base).toString('hex'), ...variants.map((v) => contentDigest({ ...base, ...v }).toString('hex'))])
    expect(digests.size).toBe(variants.length + 1)
    // An event encoded before the fields existed (keys missing) hashes as if they were null.
    const legacy = { ...storedEvent() } as Partial<AuditEvent>
    for (const key of ['actor_name', 'targets', 'changes', 'producer_id', 'producer_seq', 'subject_index', 'sealed'] as const) delete legacy[key]
    expect(canonicalEvent(legacy as AuditEvent)).toBe(canonicalEvent({ ...(legacy as AuditEvent), ...noAddedFields() }))
  })

  it('chains: a hash covers the content and the previous hash', () => {
    const event = storedEvent()
    expect(chainHash(GENESIS_HASH, event)).toMatch(/^[0-9a-f]{64}$/)
    expect(chainHash(GENESIS_HASH, event)).not.toBe(chainHash('1'.repeat(64), event))
    expect(chainHash(GENESIS_HASH, event)).not.toBe(chainHash(GENESIS_HASH, { ...event, success: false }))
  })
})

describe('chain walker', () => {
  it('accepts an intact chain and counts it', () => {
    const rows = chain(5)
    const walker = new ChainWalker({ tenant_id: 'acme', cut: null })
    for (const row of rows) walker.push(row)
    expect(walker.finish({ tenant_id: 'acme', seq: 5, hash: rows[4]!.hash })).toBeUndefined()
    expect(walker.events).toBe(5)
  })

  it('classifies a duplicate seq as inserted and a vanished tail as deleted', () => {
    const rows = chain(5)
    expect(walk([...rows.slice(0, 3), { ...rows[2]!, event: { ...rows[2]!.event, id: 'x' } }, ...rows.slice(3)])).toMatchObject({ seq: 3, problem: 'inserted' })
    expect(walk(rows.slice(0, 3), rows[4])).toMatchObject({ seq: 4, problem: 'deleted' })
    expect(walk(rows, { ...rows[4]!, seq: 4 })).toMatchObject({ seq: 5, problem: 'inserted' })
  })

  it('classifies a changed prev_hash with a recomputed hash as a missing predecessor', () => {
    const rows = chain(5)
    const forgedPrev = 'f'.repeat(64)
    const third = { ...rows[2]!, prev_hash: forgedPrev, hash: chainHash(forgedPrev, rows[2]!.event) }
    expect(walk([rows[0]!, rows[1]!, third])).toMatchObject({ seq: 3, problem: 'deleted' })
  })
})

describe('chain formats', () => {
  /** seq 1..3 hashed as a store before migration 6 did (format 1), the rest in format 2. */
  function mixed(): ChainRow[] {
    const rows: ChainRow[] = []
    let prev = GENESIS_HASH
    for (let seq = 1; seq <= 5; seq++) {
      const event = storedEvent({ tenant_id: 'acme', description: `e${seq}` })
      const hash = seq < 4 ? chainHashV1(prev, event) : chainHash(prev, event)
      rows.push({ seq, prev_hash: prev, hash, event })
      prev = hash
    }
    return rows
  }
  const walkFrom = (rows: ChainRow[], v2FromSeq: number) => {
    const walker = new ChainWalker({ tenant_id: 'acme', cut: null, v2FromSeq })
    for (const row of rows) if (walker.push(row)) break
    return walker.broken ?? walker.finish({ tenant_id: 'acme', seq: 5, hash: rows[4]!.hash })
  }

  it('applies format 1 below the recorded switch and format 2 from it', () => {
    expect(walkFrom(mixed(), 4)).toBeUndefined()
    expect(walkFrom(mixed(), 1)).toMatchObject({ seq: 1, problem: 'modified' })
    expect(walkFrom(mixed(), 5)).toMatchObject({ seq: 4, problem: 'modified' })
  })

  it('hashes a prev_hash that is not a hash as its text, the same way every time, and still names the row', () => {
    const rows = chain(3)
    const event = rows[1]!.event
    expect(chainHash('not-a-hash', event)).toBe(chainHash('not-a-hash', event))
    expect(chainHash('not-a-hash', event)).toBe(linkHash(createHash('sha256').update('not-a-hash').digest('hex'), contentDigest(event)))
    expect(chainHash('A'.repeat(64), event)).not.toBe(chainHash('a'.repeat(64), event))
    const forged = { ...rows[1]!, prev_hash: 'zz', hash: chainHash('zz', event) }
    expect(walk([rows[0]!, forged, rows[2]!])).toMatchObject({ seq: 2 })
  })
})

describe('checkpoints', () => {
  it('verify only with the signing key and only for the exact payload', () => {
    const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    const other = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    const checkpoint = signCheckpoint({ tenant_id: 'acme', seq: 5, hash: 'a'.repeat(64), created_at: new Date().toISOString(), cut: null }, key)
    expect(checkpoint.key_id).toMatch(/^[0-9a-f]{16}$/)
    expect(checkpointIsAuthentic(checkpoint, key.publicKey)).toBe(true)
    expect(checkpointIsAuthentic(checkpoint, other.publicKey)).toBe(false)
    expect(checkpointIsAuthentic({ ...checkpoint, seq: 6 }, key.publicKey)).toBe(false)
    expect(checkpointIsAuthentic({ ...checkpoint, signature: 'garbage' }, key.publicKey)).toBe(false)
  })
})
