import { describe, expect, it } from 'vitest'
import { METADATA_MAX_BYTES, jsonStringBytes } from './metadata.js'
import type { FieldError } from './types.js'
import { validateEvent } from './validate.js'

const receivedAt = new Date('2026-11-23T09:00:00.000Z')

function validateMetadata(metadata: unknown) {
  return validateEvent({ action: 'a', metadata }, { receivedAt })
}

function storedMetadata(metadata: unknown): Record<string, unknown> {
  const result = validateMetadata(metadata)
  if (!result.ok) throw new Error(`expected metadata to pass, got ${JSON.stringify(result.errors)}`)
  return result.event.metadata
}

function rules(metadata: unknown): Array<Pick<FieldError, 'field' | 'rule'>> {
  const result = validateMetadata(metadata)
  return result.ok ? [] : result.errors.map(({ field, rule }) => ({ field, rule }))
}

const utf8Bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8')

/** `{"s":"…"}` padded with a 3-byte character so the UTF-8 size, not the UTF-16 length, decides. */
function metadataOfBytes(bytes: number): Record<string, string> {
  const overhead = utf8Bytes({ s: '' })
  const euros = Math.floor((bytes - overhead) / 3)
  const value = { s: '€'.repeat(euros) + 'x'.repeat(bytes - overhead - euros * 3) }
  expect(utf8Bytes(value)).toBe(bytes)
  return value
}

/** `levels` nested containers, metadata itself being level 1. */
function nested(levels: number, container: 'object' | 'array' = 'object'): Record<string, unknown> {
  let inner: unknown = 'leaf'
  for (let i = 1; i < levels; i++) inner = container === 'object' ? { child: inner } : [inner]
  return { child: inner }
}

describe('metadata shape', () => {
  it('defaults to {} when absent or null', () => {
    expect(storedMetadata(undefined)).toEqual({})
    expect(storedMetadata(null)).toEqual({})
  })

  it.each([[[1, 2]], ['text'], [''], [42], [new Map([['a', 1]])], [new (class Context {})()]])('must be a plain object, not %j', (metadata) => {
    expect(rules(metadata)).toEqual([{ field: 'metadata', rule: 'type' }])
  })

  it('accepts an object without a prototype', () => {
    const metadata = Object.assign(Object.create(null) as object, { a: 1 })
    expect(storedMetadata(metadata)).toEqual({ a: 1 })
  })
})

describe('metadata size', () => {
  it(`accepts exactly ${METADATA_MAX_BYTES} bytes of UTF-8 JSON and refuses one more`, () => {
    expect(storedMetadata(metadataOfBytes(METADATA_MAX_BYTES))).toEqual(metadataOfBytes(METADATA_MAX_BYTES))
    expect(rules(metadataOfBytes(METADATA_MAX_BYTES + 1))).toEqual([{ field: 'metadata', rule: 'max_bytes' }])
  })

  it('counts JSON escapes: 2,000 newlines are 4,000 bytes of JSON', () => {
    const ok = { s: '\n'.repeat((METADATA_MAX_BYTES - 8) / 2) }
    expect(utf8Bytes(ok)).toBe(METADATA_MAX_BYTES)
    expect(storedMetadata(ok)).toEqual(ok)
    expect(rules({ s: `${ok.s}\n` })).toEqual([{ field: 'metadata', rule: 'max_bytes' }])
  })

  it('computes exactly the UTF-8 length of JSON.stringify for awkward strings', () => {
    const samples = ['', 'plain', 'quote " and \\ backslash', '\u0001\u001f\b\f\n\r\t', 'é€😀', '\u2028\u2029', '\u007f\u0080\u07ff\u0800\uffff']
    for (let i = 0; i < 500; i++) {
      samples.push(Array.from({ length: 20 }, () => String.fromCodePoint(Math.floor(Math.random() * 0x110000))).join(''))
    }
    for (const sample of samples.filter((s) => (s as string & { isWellFormed(): boolean }).isWellFormed())) {
      expect(jsonStringBytes(sample, Number.POSITIVE_INFINITY).count).toBe(utf8Bytes(sample))
    }
  })
})

describe('metadata depth', () => {
  it('accepts 8 levels and refuses 9, naming the path', () => {
    expect(storedMetadata(nested(8))).toEqual(nested(8))
    expect(rules(nested(9))).toEqual([{ field: 'metadata.child.child.child.child.child.child.child.child', rule: 'max_depth' }])
  })

  it('counts arrays as levels too', () => {
    expect(storedMetadata(nested(8, 'array'))).toEqual(nested(8, 'array'))
    expect(rules(nested(9, 'array'))).toEqual([{ field: 'metadata.child.0.0.0.0.0.0.0', rule: 'max_depth' }])
  })
})

describe('metadata values JSON cannot store faithfully', () => {
  it.each([
    ['NaN', { a: { b: Number.NaN } }, 'metadata.a.b'],
    ['Infinity', { a: { b: Number.POSITIVE_INFINITY } }, 'metadata.a.b'],
    ['a BigInt', { n: 10n }, 'metadata.n'],
    ['a function', { f: () => 1 }, 'metadata.f'],
    ['a symbol', { s: Symbol('s') }, 'metadata.s'],
    ['undefined inside an array', { list: [1, undefined, 3] }, 'metadata.list.1'],
    ['a Map', { m: new Map() }, 'metadata.m'],
    ['a Set inside an array', { list: [new Set([1])] }, 'metadata.list.0'],
    ['an invalid Date', { d: new Date('nope') }, 'metadata.d'],
    ['a toJSON method', { v: { toJSON: () => 'x' } }, 'metadata.v.toJSON'],
  ])('refuses %s with rule json_value at its path', (_name, metadata, field) => {
    expect(rules(metadata)).toEqual([{ field, rule: 'json_value' }])
  })

  it('names odd keys so the path stays unambiguous', () => {
    expect(rules({ 'a.b': { 'c d': Number.NaN } })).toEqual([{ field: 'metadata["a.b"]["c d"]', rule: 'json_value' }])
  })

  it('refuses a cycle, naming where it closes', () => {
    const metadata: Record<string, unknown> = { a: { b: {} } }
    ;((metadata.a as Record<string, unknown>).b as Record<string, unknown>).back = metadata
    expect(rules(metadata)).toEqual([{ field: 'metadata.a.b.back', rule: 'cycle' }])
  })
})

describe('the stored metadata', () => {
  it('is the JSON round trip of what was sent', () => {
    const sent = { n: 1.5, z: -0, t: true, nil: null, s: 'é😀', list: [1, 'two', { three: 3 }], gone: undefined, when: new Date('2026-01-02T03:04:05.006Z') }
    const stored = storedMetadata(sent)
    expect(stored).toStrictEqual(JSON.parse(JSON.stringify(sent)))
    expect(Object.is(stored.z, 0)).toBe(true)
    expect('gone' in stored).toBe(false)
  })

  it('is a copy: later changes by the caller do not reach it', () => {
    const sent = { list: [1] }
    const stored = storedMetadata(sent)
    sent.list.push(2)
    expect(stored).toEqual({ list: [1] })
  })

  it('keeps shared (non-cyclic) references as separate copies', () => {
    const shared = { x: 1 }
    expect(storedMetadata({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } })
  })
})
