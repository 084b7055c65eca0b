import { describe, expect, it } from 'vitest'
import type { FieldError, ValidationResult } from './types.js'
import { TEXT_LIMITS, validateEvent } from './validate.js'

const receivedAt = new Date('2026-11-23T09:00:00.000Z')

function validate(input: unknown): ValidationResult {
  return validateEvent(input, { receivedAt })
}

function rules(input: unknown): Array<Pick<FieldError, 'field' | 'rule'>> {
  const result = validate(input)
  return result.ok ? [] : result.errors.map(({ field, rule }) => ({ field, rule }))
}

const TEN_MB = 'x'.repeat(10 * 1024 * 1024)
const NUL = 'a\u0000b'
const LONE_HIGH = 'a\uD800b'
const LONE_LOW = '\uDC00'

describe('input that is not an object', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', '{"action":"a"}'],
    ['a boolean', true],
    ['a bigint', 1n],
    ['a symbol', Symbol('event')],
    ['a function', () => ({ action: 'a' })],
    ['an array', [{ action: 'a' }]],
  ])('%s gives one (root) error', (_name, input) => {
    expect(rules(input)).toEqual([{ field: '(root)', rule: 'type' }])
  })
})

describe('hostile objects never make validation throw', () => {
  it('a throwing getter on a field becomes that field’s error', () => {
    const input = { action: 'a' }
    Object.defineProperty(input, 'actor_id', { enumerable: true, get: () => { throw new Error('boom') } })
    expect(rules(input)).toEqual([{ field: 'actor_id', rule: 'unreadable' }])
  })

  it('a throwing getter inside metadata becomes an error at its path', () => {
    const inner = {}
    Object.defineProperty(inner, 'secret', { enumerable: true, get: () => { throw new Error('boom') } })
    expect(rules({ action: 'a', metadata: { inner } })).toEqual([{ field: 'metadata.inner.secret', rule: 'unreadable' }])
  })

  it('a proxy whose traps throw is refused, at the root or at its metadata path', () => {
    const trap = () => {
      throw new Error('trap')
    }
    const hostile = new Proxy({}, { ownKeys: trap, get: trap, getPrototypeOf: trap })
    expect(rules(hostile)).toEqual([{ field: '(root)', rule: 'unreadable' }])
    expect(rules({ action: 'a', metadata: { p: hostile } })).toEqual([{ field: 'metadata.p', rule: 'unreadable' }])
  })

  it('cyclic metadata is refused, not followed', () => {
    const metadata: Record<string, unknown> = { a: 1 }
    metadata.self = metadata
    expect(rules({ action: 'a', metadata })).toEqual([{ field: 'metadata.self', rule: 'cycle' }])
  })

  it('a graph of shared references with 100^7 paths is refused by size, quickly', () => {
    let node: unknown = 'leaf'
    for (let i = 0; i < 7; i++) node = new Array<unknown>(100).fill(node)
    const started = performance.now()
    const result = rules({ action: 'a', metadata: { node } })
    expect(performance.now() - started).toBeLessThan(500)
    expect(result).toEqual([{ field: 'metadata', rule: 'max_bytes' }])
  })

  it('a sparse array of length 2^32-1 is refused without iterating it', () => {
    const huge: unknown[] = []
    huge.length = 2 ** 32 - 1
    expect(rules({ action: 'a', metadata: { huge } })).toEqual([{ field: 'metadata', rule: 'max_bytes' }])
  })

  it('inherited properties and prototypes are ignored: only own fields count', () => {
    const input = Object.create({ action: 'inherited', actor_id: 'inherited' }) as object
    expect(rules(input)).toEqual([{ field: 'action', rule: 'required' }])
    expect(rules(Object.create(null))).toEqual([{ field: 'action', rule: 'required' }])
  })

  it('__proto__ keys from JSON are data: refused at the top level, stored as-is in metadata, nothing polluted', () => {
    expect(rules(JSON.parse('{"action":"a","__proto__":{"polluted":true}}'))).toEqual([{ field: '__proto__', rule: 'unknown_field' }])
    const result = validate(JSON.parse('{"action":"a","metadata":{"__proto__":{"polluted":true},"ok":1}}'))
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(Object.getPrototypeOf(result.event.metadata)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(result.event.metadata, '__proto__')?.value).toEqual({ polluted: true })
    expect(JSON.stringify(result.event.metadata)).toBe('{"__proto__":{"polluted":true},"ok":1}')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('10 MB strings are refused by length, quickly', () => {
  it.each([
    ['action', { action: TEN_MB }, { field: 'action', rule: 'max_length' }],
    ['description', { action: 'a', description: TEN_MB }, { field: 'description', rule: 'max_length' }],
    ['ip_address', { action: 'a', ip_address: TEN_MB }, { field: 'ip_address', rule: 'ip_address' }],
    ['occurred_at', { action: 'a', occurred_at: TEN_MB }, { field: 'occurred_at', rule: 'timestamp' }],
    ['a metadata value', { action: 'a', metadata: { big: TEN_MB } }, { field: 'metadata', rule: 'max_bytes' }],
    ['a metadata key', { action: 'a', metadata: { [TEN_MB]: 1 } }, { field: 'metadata', rule: 'max_bytes' }],
    ['an unknown field name', { action: 'a', [TEN_MB]: 1 }, { field: `"${'x'.repeat(64)}…"`, rule: 'unknown_field' }],
  ])('in %s', (_name, input, expected) => {
    const started = performance.now()
    expect(rules(input)).toEqual([expected])
    expect(performance.now() - started).toBeLessThan(200)
  })
})

describe('NUL and lone surrogates are refused in every string', () => {
  const textFields = Object.keys(TEXT_LIMITS)

  it.each(textFields)('%s', (field) => {
    expect(rules({ action: 'a', [field]: NUL })).toEqual([{ field, rule: 'no_nul' }])
    expect(rules({ action: 'a', [field]: LONE_HIGH })).toEqual([{ field, rule: 'unicode' }])
    expect(rules({ action: 'a', [field]: LONE_LOW })).toEqual([{ field, rule: 'unicode' }])
  })

  it.each(['action', 'tenant_id', 'ip_address'])('%s gets the specific rule, not just its pattern rule', (field) => {
    expect(rules({ action: 'a', [field]: NUL })).toEqual([{ field, rule: 'no_nul' }])
    expect(rules({ action: 'a', [field]: LONE_HIGH })).toEqual([{ field, rule: 'unicode' }])
  })

  it('metadata values, at any depth and inside arrays', () => {
    expect(rules({ action: 'a', metadata: { a: { b: [NUL, 'ok', LONE_HIGH] } } })).toEqual([
      { field: 'metadata.a.b.0', rule: 'no_nul' },
      { field: 'metadata.a.b.2', rule: 'unicode' },
    ])
  })

  it('metadata keys, shown escaped so the error report is itself storable', () => {
    const result = validate({ action: 'a', metadata: { [NUL]: 1, [LONE_HIGH]: 2 } })
    expect(result).toMatchObject({
      ok: false,
      errors: [
        { field: 'metadata["a\\u0000b"]', rule: 'no_nul' },
        { field: 'metadata["a\\ud800b"]', rule: 'unicode' },
      ],
    })
  })

  it('unknown field names are shown escaped too', () => {
    expect(rules({ action: 'a', [NUL]: 1 })).toEqual([{ field: '"a\\u0000b"', rule: 'unknown_field' }])
  })

  it('while well-formed astral characters (surrogate pairs) pass everywhere', () => {
    const result = validate({ action: 'a', actor_id: '😀', metadata: { '😀': ['😀'] } })
    expect(result.ok).toBe(true)
  })
})
