/**
 * Generators shared by the fuzz properties, and the oracles that judge what they produce.
 *
 * Events come in two flavours: JSON-only (what an HTTP client can send) and "recipes" for the SDK
 * path, plain data describing a hostile JavaScript object (a Proxy, a cycle, a throwing getter)
 * that `buildHostile` turns into the real thing inside the property. Keeping the generated value
 * plain data means fast-check can print, shrink and replay a counterexample that would otherwise
 * throw while being printed.
 */
import { isIP } from 'node:net'
import fc from 'fast-check'
import { ERROR_CATALOG } from '../../src/errors.js'
import { normalizeIpAddress } from '../../src/event/ip.js'
import { INPUT_FIELDS, LEGACY_ALIASES } from '../../src/event/normalize.js'
import { EVENT_FIELDS, type AuditEvent, type FieldError } from '../../src/event/types.js'
import { TEXT_LIMITS, validateEvent } from '../../src/event/validate.js'

// ---------------------------------------------------------------------------------------------
// Strings and numbers
// ---------------------------------------------------------------------------------------------

/** Characters that break naive string handling: NUL, lone surrogates, separators, BOM, RTL, escapes. */
const TRICKY_CHARS = [
  '\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uFEFF', '\u2028', '\u2029', '\u0085', '\u00A0',
  '\uFFFD', '\uFFFF', '\u{10FFFF}', '\u{1F600}', '"', '\\', '\r', '\n', '\t', '%', '/', '.', ':', '=',
  '+', '-', '_', 'é', 'e\u0301', '<', '\u202E', ' ', '{', '}', ',', '[', ']',
]

/** One character: mostly ASCII, often any code point, often one of TRICKY_CHARS (lone surrogates included). */
export const anyChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...TRICKY_CHARS) },
)

/** Short strings of anything, lone surrogates and NUL included. */
export const hostileText = fc.string({ unit: anyChar, maxLength: 40 })

/** Lengths on either side of every documented limit, and some far past them. */
const EDGE_LENGTHS = [0, 1, 45, 46, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 16_383, 16_384, 16_385]

/** A string of `length` copies of one character: multi-unit characters test code-point counting. */
export function edgeLengthText(maxLength: number): fc.Arbitrary<string> {
  const lengths = EDGE_LENGTHS.filter((n) => n <= maxLength)
  return fc
    .tuple(fc.constantFrom(...lengths), fc.constantFrom('a', 'é', '😀', '\u0000', '\uD800', '-', 'A.'), hostileText.filter((s) => s.length < 3))
    .map(([length, char, tail]) => char.repeat(Math.max(0, Math.floor(length / char.length))) + tail)
}

/** A few megabytes in one field: validation must refuse it by length, without scanning it for long. */
export const hugeText = fc.constantFrom(1_000_000, 4_200_000).map((n) => 'x'.repeat(n))

/** Numbers at every edge the validator and the JSON layer care about. */
export function edgeNumber(receivedAtMs: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(
      0, -0, 1, -1, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
      Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER - 1,
      Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, Number.EPSILON,
      1e11 - 1, 1e11, 1e11 + 0.5, 99_999_999_999.999, 1_234_567_890, 1_234_567_890.123_456,
      8.64e15, 8.64e15 + 1, -8.64e15, 253_402_300_799_999, 253_402_300_800_000,
      receivedAtMs, receivedAtMs + 86_400_000, receivedAtMs + 86_400_001, Math.floor(receivedAtMs / 1000),
    ),
    fc.integer(),
    fc.double(),
  )
}

// ---------------------------------------------------------------------------------------------
// Field values
// ---------------------------------------------------------------------------------------------

export type CanonicalName = (typeof INPUT_FIELDS)[number]

export const ALIAS_NAMES = Object.keys(LEGACY_ALIASES)

/** Names that are neither fields nor aliases, but likely to confuse: prototype keys, typos, server fields. */
export const ODD_NAMES = [
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'received_at', 'actorId',
  'events', 'Action', 'action ', '', '\u0000', '\uD800', 'metadata.a', 'x'.repeat(300),
]

const ACTION = /^[A-Za-z0-9._:/-]{1,128}$/
const TENANT = /^[A-Za-z0-9._:-]{1,128}$/

/** Text a PostgreSQL varchar(n) and the validator both accept: printable code points, no NUL, no lone surrogate. */
function cleanText(maxChars: number): fc.Arbitrary<string> {
  const unit = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  )
  return fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit, minLength: 1, maxLength: Math.min(maxChars, 24) }) },
    { weight: 1, arbitrary: fc.constantFrom('😀', 'é').map((c) => c.repeat(maxChars)) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(maxChars)) },
  ).filter((s) => [...s].length <= maxChars && !s.includes('\u0000') && (s as string & { isWellFormed(): boolean }).isWellFormed())
}

const uuidText = fc.oneof(
  fc.uuid(),
  fc.uuid({ version: 7 }),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.mixedCase(fc.uuid({ version: 4 })),
)

const ipText = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((ip) => ip.toUpperCase()),
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  fc.ipV4().map((ip) => `::FFFF:${ip}`),
  fc.constantFrom('::', '::1', '::192.0.2.1', '64:ff9b::c000:201', '2001:DB8:0:0:0:0:0:1', '0:0:0:0:0:ffff:c000:0201'),
)

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** ISO-8601 spellings of `ms` the validator documents as accepted: offsets, 0–9 fraction digits, lowercase t/z. */
function isoSpelling(ms: number): fc.Arbitrary<string> {
  return fc
    .record({
      offsetMinutes: fc.oneof(fc.constant(0), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 })),
      zulu: fc.boolean(),
      fractionDigits: fc.integer({ min: 0, max: 9 }),
      lowercase: fc.boolean(),
    })
    .map(({ offsetMinutes, zulu, fractionDigits, lowercase }) => {
      const offset = zulu ? 0 : offsetMinutes
      const local = new Date(ms + offset * 60_000)
      const date = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`
      const millis = pad(local.getUTCMilliseconds(), 3)
      // Fewer than 3 digits would round the instant; those spellings are tested with whole seconds only.
      const fraction = fractionDigits === 0 ? (millis === '000' ? '' : `.${millis}`) : `.${(millis + '123456').slice(0, Math.max(3, fractionDigits))}`
      const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}`
      const sign = offset < 0 ? '-' : '+'
      const zone = zulu ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
      const text = `${date}T${time}${zone}`
      return lowercase ? text.replace('T', 't').replace('Z', 'z') : text
    })
}

/** A valid `occurred_at` for an event received at `receivedAtMs`: ISO text or epoch milliseconds. */
function validOccurredAt(receivedAtMs: number): fc.Arbitrary<string | number> {
  const instant = fc.oneof(fc.integer({ min: 0, max: receivedAtMs + 23 * 3_600_000 }), fc.constantFrom(0, receivedAtMs))
  return instant.chain((ms) => fc.oneof(fc.constant(ms), isoSpelling(ms)))
}

/** Timestamp-looking text the validator must refuse: no zone, impossible dates, leap seconds, too long. */
const badTimestamps = fc.constantFrom(
  '2026-01-01T00:00:00', '2026-02-30T00:00:00Z', '2026-02-29T00:00:00Z', '2024-02-29T23:59:59.999Z', '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z', '2026-06-30T23:59:60Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00+05:60',
  '2026-01-01 00:00:00Z', '2026-01-01', '20260101T000000Z', '1969-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z', '2026-01-01T00:00:00.1234567890Z', '+275760-09-13T00:00:00.000Z', 'now', '',
  `2026-01-01T00:00:00.${'9'.repeat(40)}Z`, '1970-01-01T00:00:00+00:01', '1970-01-01T00:00:00-00:01',
)

const jsonLeaf = fc.oneof(fc.string({ unit: anyChar, maxLength: 12 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null))
const metadataKey = fc.oneof({ weight: 6, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_NAMES, 'a.b', 'a b', '0') }, { weight: 1, arbitrary: hostileText })

/** JSON-only metadata: often valid, sometimes too deep, too big, or carrying NUL/lone surrogates. */
export const jsonMetadata: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(metadataKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) },
  { weight: 2, arbitrary: fc.dictionary(metadataKey, jsonLeaf, { maxKeys: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 14 }).map((depth) => nest(depth, { leaf: true })) },
  { weight: 1, arbitrary: fc.integer({ min: 16_300, max: 16_400 }).chain((n) => fc.constantFrom('a', 'é', '"').map((c) => ({ big: c.repeat(Math.floor(n / Buffer.byteLength(JSON.stringify(c).slice(1, -1)))) }))) },
  { weight: 1, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom([], 'text', 0, false)) },
)

/** `depth` levels of alternating objects and arrays around `leaf` (metadata itself is level 1). */
function nest(depth: number, leaf: unknown): Record<string, unknown> {
  let node: unknown = leaf
  for (let level = depth; level > 1; level--) node = level % 2 === 0 ? { n: node } : [node]
  return { n: node }
}

/** A value of the field's documented type and range, for events that ought to be accepted. */
export function validFieldValue(name: string, receivedAtMs: number): fc.Arbitrary<unknown> {
  const canonical = (Object.hasOwn(LEGACY_ALIASES, name) ? LEGACY_ALIASES[name]?.canonical : undefined) ?? name
  if (name === 'timestamp') {
    return fc.oneof(
      fc.integer({ min: 0, max: Math.floor(receivedAtMs / 1000) }),
      fc.double({ min: 0, max: Math.floor(receivedAtMs / 1000), noNaN: true }),
      validOccurredAt(receivedAtMs),
    )
  }
  if (name === 'details') return fc.oneof(jsonMetadata, fc.string(), fc.array(fc.integer(), { maxLength: 3 }))
  switch (canonical) {
    case 'action':
      return fc.oneof(fc.stringMatching(ACTION), fc.constantFrom('login', 'api_key.created', 'a', 'x'.repeat(128), 'a:b/c-d_e.f'))
    case 'tenant_id':
      return fc.oneof(fc.stringMatching(TENANT), fc.constantFrom('default', 'acme', 't'.repeat(128)))
    case 'id':
      return uuidText
    case 'occurred_at':
      return validOccurredAt(receivedAtMs)
    case 'category':
      return fc.constantFrom('info', 'warning', 'critical')
    case 'success':
      return fc.boolean()
    case 'ip_address':
      return ipText
    case 'metadata':
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 })
    case 'actor_id':
    case 'resource_id':
    case 'session_id':
    case 'request_id':
    case 'client_id':
      return fc.oneof({ weight: 4, arbitrary: cleanText(TEXT_LIMITS[canonical]) }, { weight: 1, arbitrary: fc.maxSafeInteger() })
    default:
      return cleanText(Object.hasOwn(TEXT_LIMITS, canonical) ? TEXT_LIMITS[canonical as keyof typeof TEXT_LIMITS] : 256)
  }
}

/** Any JSON value that could break a field: wrong types, edge lengths, edge numbers, bad timestamps, bad addresses. */
export function hostileJsonValue(receivedAtMs: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    hostileText,
    edgeLengthText(3000),
    edgeNumber(receivedAtMs).filter(Number.isFinite),
    badTimestamps,
    fc.constantFrom(null, '', true, false, 'INFO', 'Critical', 'true', 'false', '0', '{0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70}',
      'urn:uuid:0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70', '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f7', 'fe80::1%eth0', '10.0.0.0/8',
      '192.168.001.001', '1.2.3.4.5', '::ffff:1.2.3', ':::', '1::2::3', '0190b6a47c3e7d2a9f1e3b5c2d4e6f70'),
    fc.jsonValue({ maxDepth: 2 }),
    jsonMetadata,
  )
}

/** Every name a generated event may carry, weighted toward real fields. */
const fieldName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...INPUT_FIELDS) },
  { weight: 4, arbitrary: fc.constantFrom(...ALIAS_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
)

/** Defines `key` as an own, enumerable data property — even `__proto__`, which plain assignment would turn into a prototype swap. */
export function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

export interface EventPlan {
  /** [name, value] in the order the object gets them; later entries overwrite earlier ones. */
  entries: [string, unknown][]
}

/**
 * A JSON object shaped like an event: half the time a valid event (canonical and legacy-alias
 * names mixed, aliases sometimes repeating the canonical value, sometimes contradicting it), the
 * rest with one to four fields replaced by hostile values or odd names.
 */
export function eventPlan(receivedAtMs: number): fc.Arbitrary<EventPlan> {
  const validEntry = fieldName.chain((name) => fc.tuple(fc.constant(name), validFieldValue(name, receivedAtMs)))
  const hostileEntry = fieldName.chain((name) => fc.tuple(fc.constant(name), hostileJsonValue(receivedAtMs)))
  return fc
    .record({
      action: fc.tuple(fc.constantFrom('action', 'event_type'), validFieldValue('action', receivedAtMs)),
      valid: fc.array(validEntry, { maxLength: 8 }),
      hostile: fc.oneof(
        { weight: 12, arbitrary: fc.constant([]) },
        { weight: 12, arbitrary: fc.array(hostileEntry, { minLength: 1, maxLength: 4 }) },
        // Past the 50-error cap: the report must stay bounded and end with too_many_errors.
        { weight: 1, arbitrary: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.constant(1)), { minLength: 45, maxLength: 90 }) },
      ),
      dropAction: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    })
    .map(({ action, valid, hostile, dropAction }) => ({ entries: [...(dropAction ? [] : [action as [string, unknown]]), ...valid, ...hostile] }))
}

/** The plan as a JSON-ready object (own `__proto__` keys stay data). */
export function eventFromPlan(plan: EventPlan): Record<string, unknown> {
  const event: Record<string, unknown> = {}
  for (const [key, value] of plan.entries) defineOwn(event, key, value)
  return event
}

// ---------------------------------------------------------------------------------------------
// Hostile JavaScript objects (SDK callers), as printable recipes
// ---------------------------------------------------------------------------------------------

export type Recipe =
  | { t: 'json'; v: unknown }
  | { t: 'date'; ms: number }
  | { t: 'exotic'; kind: 'bigint' | 'symbol' | 'function' | 'undefined' | 'map' | 'set' | 'class' | 'typed' | 'boxed-string' | 'boxed-number' | 'toJSON' | 'regexp' | 'error' | 'array-proto' | 'promise' }
  | { t: 'sparse'; length: number }
  | { t: 'object'; nullProto: boolean; frozen: boolean; entries: [string, Recipe][] }
  | { t: 'array'; items: Recipe[] }
  | { t: 'getter'; throws: boolean; first: Recipe; later: Recipe }
  | { t: 'proxy'; trap: 'ownKeys' | 'get' | 'getPrototypeOf' | 'getOwnPropertyDescriptor' | 'none'; target: Recipe }
  | { t: 'cycle'; up: number }
  | { t: 'deep'; depth: number; arrays: boolean }
  | { t: 'shared'; fan: number; levels: number }
  | { t: 'huge'; char: string; length: number }

const EXOTIC_KINDS = ['bigint', 'symbol', 'function', 'undefined', 'map', 'set', 'class', 'typed', 'boxed-string', 'boxed-number', 'toJSON', 'regexp', 'error', 'array-proto', 'promise'] as const

/** Recipes for values at any depth; `fieldValues` are the leaves an event field would plausibly hold. */
export function recipe(receivedAtMs: number): fc.Arbitrary<Recipe> {
  const leaf: fc.Arbitrary<Recipe> = fc.oneof(
    { weight: 6, arbitrary: fc.oneof(hostileJsonValue(receivedAtMs), validFieldValue('occurred_at', receivedAtMs), fc.jsonValue({ maxDepth: 2 })).map((v): Recipe => ({ t: 'json', v })) },
    { weight: 2, arbitrary: fc.oneof(fc.constant(Number.NaN), edgeNumber(receivedAtMs)).map((ms): Recipe => ({ t: 'date', ms })) },
    { weight: 2, arbitrary: fc.constantFrom(...EXOTIC_KINDS).map((kind): Recipe => ({ t: 'exotic', kind })) },
    { weight: 1, arbitrary: fc.constantFrom(5, 2 ** 32 - 1, 1e6).map((length): Recipe => ({ t: 'sparse', length })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((up): Recipe => ({ t: 'cycle', up })) },
    { weight: 1, arbitrary: fc.record({ depth: fc.integer({ min: 1, max: 5_000 }), arrays: fc.boolean() }).map((r): Recipe => ({ t: 'deep', ...r })) },
    { weight: 1, arbitrary: fc.record({ fan: fc.integer({ min: 2, max: 100 }), levels: fc.integer({ min: 1, max: 7 }) }).map((r): Recipe => ({ t: 'shared', ...r })) },
    { weight: 1, arbitrary: fc.record({ char: fc.constantFrom('x', 'é', '😀', '\u0000', '\uDC00'), length: fc.constantFrom(129, 257, 2049, 16_385, 1_000_000, 10_000_000) }).map((r): Recipe => ({ t: 'huge', ...r })) },
  )
  const { tree } = fc.letrec<{ tree: Recipe; node: Recipe }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('node')),
    node: fc.oneof(
      fc.record({ t: fc.constant('object' as const), nullProto: fc.boolean(), frozen: fc.boolean(), entries: fc.array(fc.tuple(metadataKey, tie('tree')), { maxLength: 4 }) }),
      fc.record({ t: fc.constant('array' as const), items: fc.array(tie('tree'), { maxLength: 4 }) }),
      fc.record({ t: fc.constant('getter' as const), throws: fc.boolean(), first: tie('tree'), later: tie('tree') }),
      fc.record({ t: fc.constant('proxy' as const), trap: fc.constantFrom('ownKeys', 'get', 'getPrototypeOf', 'getOwnPropertyDescriptor', 'none'), target: tie('tree') }),
    ),
  }))
  return tree
}

/** An event-shaped recipe: field names (canonical, alias, odd) mapped to hostile values, with a valid action usually present. */
export function eventRecipe(receivedAtMs: number): fc.Arbitrary<Recipe> {
  const entry = fieldName.chain((name) => fc.tuple(fc.constant(name), recipe(receivedAtMs)))
  return fc
    .record({
      action: fc.option(validFieldValue('action', receivedAtMs), { freq: 5 }),
      entries: fc.array(entry, { maxLength: 6 }),
      nullProto: fc.boolean(),
      frozen: fc.boolean(),
      root: fc.constantFrom('object', 'object', 'object', 'getter-field', 'proxy-get', 'proxy-ownKeys', 'proxy-none'),
    })
    .map(({ action, entries, nullProto, frozen, root }): Recipe => {
      const all: [string, Recipe][] = action === null ? entries : [['action', { t: 'json', v: action }], ...entries]
      const object: Recipe = { t: 'object', nullProto, frozen, entries: all }
      if (root === 'getter-field') return { t: 'object', nullProto, frozen, entries: [...all, ['actor_id', { t: 'getter', throws: true, first: { t: 'json', v: 'u' }, later: { t: 'json', v: 'u' } }]] }
      if (root === 'proxy-get') return { t: 'proxy', trap: 'get', target: object }
      if (root === 'proxy-ownKeys') return { t: 'proxy', trap: 'ownKeys', target: object }
      return root === 'proxy-none' ? { t: 'proxy', trap: 'none', target: object } : object
    })
}

class Opaque {
  constructor(readonly secret = 1) {}
}

/** Turns a recipe into the hostile object it describes; `ancestors` lets a `cycle` point back up. */
export function buildHostile(r: Recipe, ancestors: object[] = []): unknown {
  switch (r.t) {
    case 'json':
      return r.v
    case 'date':
      return new Date(r.ms)
    case 'exotic':
      return exotic(r.kind)
    case 'sparse': {
      const array: unknown[] = []
      array.length = r.length
      return array
    }
    case 'huge':
      return r.char.repeat(r.length)
    case 'cycle': {
      if (ancestors.length === 0) {
        const self: Record<string, unknown> = {}
        self.self = self
        return self
      }
      return ancestors[ancestors.length - 1 - (r.up % ancestors.length)]
    }
    case 'deep': {
      let node: unknown = 'bottom'
      for (let i = 0; i < r.depth; i++) node = r.arrays && i % 2 === 0 ? [node] : { d: node }
      return node
    }
    case 'shared': {
      let node: unknown = 'leaf'
      for (let i = 0; i < r.levels; i++) node = new Array<unknown>(r.fan).fill(node)
      return node
    }
    case 'object': {
      const object: Record<string, unknown> = r.nullProto ? (Object.create(null) as Record<string, unknown>) : {}
      const path = [...ancestors, object]
      for (const [key, value] of r.entries) {
        if (value.t === 'getter') defineGetter(object, key, value, path)
        else defineOwn(object, key, buildHostile(value, path))
      }
      return r.frozen ? Object.freeze(object) : object
    }
    case 'array': {
      const array: unknown[] = []
      const path = [...ancestors, array]
      for (const item of r.items) array.push(buildHostile(item, path))
      return array
    }
    case 'getter': {
      const holder = {}
      defineGetter(holder, 'value', r, ancestors)
      return holder
    }
    case 'proxy': {
      const target = buildHostile(r.target, ancestors)
      if (typeof target !== 'object' || target === null) return target
      const trap = () => {
        throw new Error(`hostile ${r.trap} trap`)
      }
      return new Proxy(target, r.trap === 'none' ? {} : { [r.trap]: trap })
    }
  }
}

/** A getter that answers `first` once and `later` afterwards (or throws): the validator must read each field once. */
function defineGetter(target: object, key: string, r: Extract<Recipe, { t: 'getter' }>, ancestors: object[]): void {
  let reads = 0
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      reads += 1
      if (r.throws) throw new Error('hostile getter')
      return buildHostile(reads === 1 ? r.first : r.later, ancestors)
    },
  })
}

function exotic(kind: (typeof EXOTIC_KINDS)[number]): unknown {
  switch (kind) {
    case 'bigint': return 10n ** 30n
    case 'symbol': return Symbol('hostile')
    case 'function': return () => 'hostile'
    case 'undefined': return undefined
    case 'map': return new Map([['action', 'x']])
    case 'set': return new Set([1])
    case 'class': return new Opaque()
    case 'typed': return new Uint8Array([1, 2, 3])
    // eslint-disable-next-line no-new-wrappers
    case 'boxed-string': return new String('login')
    // eslint-disable-next-line no-new-wrappers
    case 'boxed-number': return new Number(1)
    case 'toJSON': return { toJSON: () => ({ action: 'swapped' }) }
    case 'regexp': return /x/g
    case 'error': return new Error('boom')
    case 'array-proto': return Object.create(Array.prototype) as unknown
    case 'promise': return Promise.resolve(1)
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP requests
// ---------------------------------------------------------------------------------------------

/** The service's limits in these tests (config defaults), for generators that aim at them and oracles that check them. */
export const SERVICE_LIMITS = { maxEventsPerRequest: 1_000, maxNdjsonLineBytes: 64 * 1024, bodyLimitBytes: 4 * 1024 * 1024, defaultQueryLimit: 100, maxJsonDepth: 32 }

export interface IngestRequest {
  inputClass: string
  contentType: string | undefined
  body: Buffer
}

const JSON_TYPES = ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8', ' application/json ', 'application/json; charset=latin1', 'application/json;;;', 'application/json; charset=utf-16']
const NDJSON_TYPES = ['application/x-ndjson; charset=utf-8', 'Application/X-NDJSON', 'application/x-ndjson ; foo=bar']
const ODD_TYPES = [
  undefined, '', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*',
  'application/jsonx', 'application/json, text/plain', 'application/vnd.api+json', 'text/json', 'application/ndjson',
  'application/x-ndjson-ish', 'application', '/', ';', 'application/json\u00e9',
]

const jsonType = fc.oneof({ weight: 12, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom(...JSON_TYPES) })
const ndjsonType = fc.oneof({ weight: 12, arbitrary: fc.constant('application/x-ndjson') }, { weight: 1, arbitrary: fc.constantFrom(...NDJSON_TYPES) })
const anyType = fc.oneof(jsonType, ndjsonType, fc.constantFrom(...ODD_TYPES), fc.string({ unit: 'grapheme-ascii', maxLength: 40 }))

export function ingestRequest(): fc.Arbitrary<IngestRequest> {
  const now = Date.now()
  const event = eventPlan(now).map(eventFromPlan)
  // Up to 1,200 items drawn from a small pool: big requests without generating 1,200 events each time.
  const many = fc
    .record({ pool: fc.array(event, { minLength: 1, maxLength: 5 }), n: fc.oneof(fc.integer({ min: 0, max: 1_200 }), fc.constantFrom(0, 999, 1_000, 1_001, 1_200)) })
    .map(({ pool, n }) => Array.from({ length: n }, (_, i) => pool[i % pool.length]))
  const list = fc.oneof({ weight: 6, arbitrary: fc.array(event, { maxLength: 12 }) }, { weight: 1, arbitrary: many })
  const json = (inputClass: string, value: fc.Arbitrary<unknown>, type = jsonType) =>
    fc.record({ inputClass: fc.constant(inputClass), contentType: type, body: value.map((v) => Buffer.from(JSON.stringify(v) ?? '')) })
  const oddEnvelope = fc.oneof(
    list.map((events) => ({ events, extra: 1 })),
    fc.jsonValue({ maxDepth: 2 }).map((events) => ({ events })),
    list.map((events) => ({ events: { events } })),
    list.map((events) => [{ events }]),
  )
  const structured = fc.oneof(
    { weight: 3, arbitrary: json('single event', event) },
    { weight: 2, arbitrary: json('array', list) },
    { weight: 3, arbitrary: json('envelope', list.map((events) => ({ events }))) },
    { weight: 1, arbitrary: json('odd envelope', oddEnvelope) },
    { weight: 1, arbitrary: json('json value', fc.jsonValue()) },
    { weight: 3, arbitrary: ndjsonRequest(now) },
  )
  return fc.oneof(
    { weight: 14, arbitrary: structured },
    { weight: 3, arbitrary: fc.tuple(structured, fc.array(byteMutation, { minLength: 1, maxLength: 4 })).map(([request, mutations]) => ({ ...request, inputClass: `mutated ${request.inputClass}`, body: mutate(request.body, mutations) })) },
    { weight: 2, arbitrary: fc.record({ inputClass: fc.constant('any content-type'), contentType: anyType, body: fc.oneof(event, list).map((v) => Buffer.from(JSON.stringify(v))) }) },
    { weight: 2, arbitrary: fc.record({ inputClass: fc.constant('random bytes'), contentType: anyType, body: fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)) }) },
    { weight: 1, arbitrary: fc.record({ inputClass: fc.constant('deep nesting'), contentType: fc.oneof(jsonType, ndjsonType), body: deepJson }) },
    { weight: 1, arbitrary: fc.record({ inputClass: fc.constant('over the body limit'), contentType: fc.oneof(jsonType, ndjsonType), body: fc.constant(Buffer.from(JSON.stringify({ action: 'big', description: 'x'.repeat(SERVICE_LIMITS.bodyLimitBytes + 1) }))) }) },
  )
}

/** JSON nested up to 200,000 levels (within the body limit), as a body, an event, or metadata; some with prototype keys at the bottom. */
const deepJson = fc
  .record({
    depth: fc.constantFrom(9, 100, 10_000, 200_000),
    open: fc.constantFrom('[', '{"a":', '{"constructor":', '{"__proto__":'),
    bottom: fc.constantFrom('1', '{"action":"deep"}', '{"constructor":{"prototype":{}}}', '"__proto__"'),
    wrap: fc.constantFrom('bare', 'metadata', 'envelope'),
  })
  .map(({ depth, open, bottom, wrap }) => {
    const close = open === '[' ? ']' : '}'
    const nested = open.repeat(depth) + bottom + close.repeat(depth)
    const text = wrap === 'bare' ? nested : wrap === 'metadata' ? `{"action":"deep","metadata":${nested}}` : `{"events":[${nested},{"action":"deep.ok"}]}`
    return Buffer.from(text)
  })

function ndjsonRequest(now: number): fc.Arbitrary<IngestRequest> {
  const eventLine = eventPlan(now).map((plan) => JSON.stringify(eventFromPlan(plan)))
  const line = fc.oneof(
    { weight: 10, arbitrary: eventLine },
    { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t', '\r', ' \u00a0 ', '\ufeff') },
    { weight: 2, arbitrary: eventLine.chain((text) => fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n))) },
    { weight: 1, arbitrary: fc.constantFrom('{not json', '}', '[', 'null', '42', '"text"', '[{"action":"a"}]', '{"action":"a"}{"action":"b"}', '{"action":"a"} x', '{"action":"nd","__proto__":{"x":1}}') },
    { weight: 1, arbitrary: fc.integer({ min: 65_480, max: 65_600 }).map((n) => JSON.stringify({ action: 'huge.line', metadata: { pad: 'x'.repeat(n - 50) } })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  )
  const lines: fc.Arbitrary<[string, string][]> = fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.tuple(line, fc.constantFrom<string>('\n', '\r\n', '\n\n', '\r\n\r\n')), { maxLength: 30 }) },
    { weight: 1, arbitrary: fc.tuple(eventLine, fc.integer({ min: 900, max: 1_200 })).map(([text, n]) => Array.from({ length: n }, () => [text, '\n'] as [string, string])) },
  )
  return fc.record({ lines, bom: fc.boolean(), trailing: fc.boolean(), contentType: ndjsonType }).map(({ lines, bom, trailing, contentType }) => {
    let text = lines.map(([content, end]) => content + end).join('')
    if (!trailing) text = text.replace(/(\r?\n)+$/, '')
    return { inputClass: 'ndjson', contentType, body: Buffer.from((bom ? '\ufeff' : '') + text) }
  })
}

type ByteMutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'delete' | 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.constantFrom('"__proto__":{"a":1},', '"constructor":{"prototype":{}},', ',', '"', '\\', '\\u0000', '\\ud800', '{', '[', ']', '}', 'null', '1e999', '-0', '"events":[],', '\n', '\r\n').map((s) => Buffer.from(s)),
  }),
)

function mutate(body: Buffer, mutations: ByteMutation[]): Buffer {
  let bytes = Buffer.from(body)
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length
    if (m.op === 'flip' && bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << m.bit)
    else if (m.op === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)])
    else if (m.op === 'duplicate') bytes = Buffer.concat([bytes.subarray(0, at + m.length), bytes.subarray(at)])
    else if (m.op === 'truncate') bytes = bytes.subarray(0, at)
    else if (m.op === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)])
  }
  return bytes
}

// ---------------------------------------------------------------------------------------------
// Query strings, cursors and ids
// ---------------------------------------------------------------------------------------------

export interface QueryRequest {
  inputClass: string
  route: 'list' | 'export' | 'by id'
  url: string
}

export const KNOWN_PARAMS = ['actor_id', 'action', 'category', 'resource_type', 'resource_id', 'success', 'tenant_id', 'from', 'to', 'limit', 'cursor', 'format']
const ODD_PARAMS = ['actor', 'actor_id[]', 'actor_id[0]', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'LIMIT', ' limit', 'a.b', 'events']

/** Values the seeded store holds, so filters also match something. */
export const POOL = {
  actor_id: ['u1', 'u2', 'ü-3', '42'],
  action: ['login', 'logout', 'api_key.created'],
  resource_type: ['doc', 'token'],
  resource_id: ['d1', 'd2'],
  tenant_id: ['default', 'acme'],
}

/** Percent-encodes every byte of the UTF-8 text that is not unreserved (a lone surrogate goes as U+FFFD, as on the wire). */
function percentEncode(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

const instantText = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString()),
  fc.integer({ min: -1e15, max: 1e15 }).map(String),
  fc.constantFrom(
    '2026-01-01', '2026-01-01T00:00Z', '2026-01-01T00:00:00+01:00', '2026-01-01T00:00:00+0100', '2026-01-01T00:00:00.123456789Z',
    '-8640000000000000', '8640000000000000', '8640000000000001', '-8640000000000001', '0000-01-01', '275760-09-13', '2026-02-30',
    '2026-13-01', '9999999999999999', '-0', '1e3', '2026-01-01T00:00+01', 'yesterday', '',
  ),
)

function paramValue(name: string, validCursor: string): fc.Arbitrary<string> {
  const pooled = Object.hasOwn(POOL, name) ? (POOL as Record<string, string[]>)[name] : undefined
  if (pooled) return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pooled) }, { weight: 2, arbitrary: hostileText }, { weight: 1, arbitrary: edgeLengthText(300) })
  switch (name) {
    case 'category': return fc.constantFrom('info', 'warning', 'critical', 'INFO', '', 'x')
    case 'success': return fc.constantFrom('true', 'false', 'TRUE', '1', '0', '', 'yes')
    case 'from':
    case 'to': return fc.oneof(instantText, hostileText)
    case 'limit': return fc.oneof(fc.constantFrom('0', '1', '2', '100', '1000', '1001', '-1', '01', '1.0', '1e3', '999999', '9999999', ' 1', '', 'NaN'), fc.nat().map(String))
    case 'cursor': return cursorText(validCursor)
    case 'format': return fc.constantFrom('ndjson', 'csv', 'CSV', 'xml', '', 'ndjson ')
    default: return hostileText
  }
}

/** Real cursors, tampered ones, look-alikes with impossible fields, and garbage. */
function cursorText(valid: string): fc.Arbitrary<string> {
  const base64url = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'undefined').toString('base64url')
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/='
  const lookAlike = fc.record({
    v: fc.oneof({ weight: 5, arbitrary: fc.constant<unknown>(1) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(2, '1', 0, null, 1.5) }),
    t: fc.oneof(fc.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/), fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString()), instantText, fc.jsonValue({ maxDepth: 1 })),
    i: fc.oneof({ weight: 5, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.oneof(fc.uuid().map((u) => u.toUpperCase()), hostileText, fc.jsonValue({ maxDepth: 1 })) }),
  })
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(valid) },
    { weight: 4, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 4 }).map((edits) => replaceChars(valid, edits)) },
    { weight: 3, arbitrary: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 }).map((flips) => flipDecodedBits(valid, flips)) },
    { weight: 1, arbitrary: fc.nat().map((n) => valid.slice(0, n % valid.length)) },
    { weight: 2, arbitrary: fc.jsonValue().map(base64url) },
    { weight: 4, arbitrary: lookAlike.map(base64url) },
    { weight: 1, arbitrary: fc.constantFrom(201, 5_000, 100_000).map((n) => 'A'.repeat(n)) },
    { weight: 1, arbitrary: fc.oneof(hostileText, fc.constantFrom('', '=', '====', 'null', 'e30', 'W10')) },
  )
}

function replaceChars(text: string, edits: [number, string][]): string {
  const chars = [...text]
  for (const [at, c] of edits) chars[at % chars.length] = c
  return chars.join('')
}

function flipDecodedBits(cursor: string, flips: [number, number][]): string {
  const bytes = Buffer.from(cursor, 'base64url')
  for (const [at, bit] of flips) bytes[at % bytes.length] = bytes[at % bytes.length]! ^ (1 << bit)
  return bytes.toString('base64url')
}

const paramName = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...KNOWN_PARAMS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_PARAMS) }, { weight: 1, arbitrary: hostileText })
const RAW_GARBAGE = ['&&', '=', '&=', '%', '%zz', '%E0%A4%A', '+', '&a', '?', '&limit', '&cursor=', '%00=1', 'a=%']

export function queryRequest(validCursor: string, storedIds: string[]): fc.Arbitrary<QueryRequest> {
  const pair = paramName.chain((name) => fc.tuple(fc.constant(name), paramValue(name, validCursor)))
  const query = fc
    .record({
      pairs: fc.array(pair, { maxLength: 6 }),
      repeat: fc.integer({ min: 0, max: 9 }),
      garbage: fc.option(fc.constantFrom(...RAW_GARBAGE), { freq: 6 }),
    })
    .map(({ pairs, repeat, garbage }) => {
      // Sometimes a parameter twice (?a=1&a=2): refused, never guessed.
      const all = repeat === 0 && pairs.length > 0 ? [...pairs, [pairs[0]![0], `${pairs[0]![1]}x`] as [string, string]] : pairs
      const text = all.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&')
      return garbage === null ? text : `${text}&${garbage}`
    })
  const id = fc.oneof(
    fc.constantFrom(...storedIds),
    fc.constantFrom(...storedIds).map((stored) => stored.toUpperCase()),
    fc.uuid(),
    hostileText.map(percentEncode),
    fc.constantFrom('%zz', '%', '%E0%A4%A', '..', '.', '%2F', 'x'.repeat(101), '0'.repeat(100)),
  )
  return fc.oneof(
    { weight: 6, arbitrary: query.map((q): QueryRequest => ({ inputClass: 'list query', route: 'list', url: `/v1/events?${q}` })) },
    { weight: 3, arbitrary: query.map((q): QueryRequest => ({ inputClass: 'export query', route: 'export', url: `/v1/events/export?${q}` })) },
    { weight: 2, arbitrary: id.map((value): QueryRequest => ({ inputClass: 'event by id', route: 'by id', url: `/v1/events/${value}` })) },
  )
}

/** x-request-id values: plain ones the service must echo, and long, unicode and CRLF ones it must not. */
export const requestIdValue = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[\w.:-]{1,128}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 129, max: 10_000 }).map((n) => 'a'.repeat(n)) },
  { weight: 2, arbitrary: hostileText },
  { weight: 2, arbitrary: fc.constantFrom('abc\r\nSet-Cookie: evil=1', 'abc\nx-injected: 1', 'abc\r', '\r\n\r\nHTTP/1.1 200 OK', 'a\u0000b', 'é', '\u2028', '', ' ', 'id with space', '<script>', '../../etc', 'a'.repeat(128), 'a'.repeat(129)) },
)


// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

/** Every rule name docs/event-format.md documents for validateEvent. */
export const VALIDATOR_RULES = new Set([
  'required', 'max_length', 'pattern', 'uuid', 'type', 'timestamp', 'not_future', 'not_before_epoch', 'server_set',
  'enum', 'ip_address', 'max_bytes', 'max_depth', 'json_value', 'cycle', 'no_nul', 'unicode', 'unknown_field',
  'alias_conflict', 'unreadable', 'too_many_errors', 'invalid_option',
  // The fields of canonical form auditq.v2 (targets, changes, producer numbering, sealed values).
  'max_items', 'max_fields', 'positive_integer', 'required_with', 'sealed_value',
])

/** Rules the HTTP layer adds for NDJSON lines it could not parse. */
export const NDJSON_RULES = new Set(['json', 'max_line_bytes'])

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const MAX_FUTURE_MS = 86_400_000
const METADATA_MAX_BYTES = 16_384
const METADATA_MAX_DEPTH = 8

function wellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed()
}

/** Every way `event` breaks docs/event-format.md's stored form, as readable strings (empty when it is fine). */
export function storedFormViolations(event: AuditEvent, receivedAtMs: number): string[] {
  const problems: string[] = []
  const fail = (message: string) => problems.push(message)
  const keys = Object.keys(event)
  if (keys.join(',') !== EVENT_FIELDS.join(',')) fail(`keys ${keys.join(',')} are not EVENT_FIELDS in order`)
  if (!LOWER_UUID.test(event.id)) fail(`id ${JSON.stringify(event.id)} is not a lowercase UUID`)
  if (!TENANT.test(event.tenant_id)) fail(`tenant_id ${JSON.stringify(event.tenant_id)} breaks its pattern`)
  if (typeof event.action !== 'string' || !ACTION.test(event.action)) fail(`action ${JSON.stringify(event.action)} breaks its pattern`)
  if (!['info', 'warning', 'critical'].includes(event.category)) fail(`category ${String(event.category)}`)
  if (typeof event.success !== 'boolean') fail('success is not a boolean')
  for (const field of ['occurred_at', 'received_at'] as const) {
    const value = event[field]
    if (!ISO_MS.test(value) || new Date(value).toISOString() !== value) fail(`${field} ${JSON.stringify(value)} is not ISO-8601 UTC with milliseconds`)
  }
  if (Date.parse(event.received_at) !== receivedAtMs) fail(`received_at ${event.received_at} is not the time of receipt`)
  const occurred = Date.parse(event.occurred_at)
  if (!(occurred >= 0)) fail('occurred_at is before 1970')
  if (occurred > receivedAtMs + MAX_FUTURE_MS) fail('occurred_at is more than 24 h after received_at')
  for (const [field, max] of Object.entries(TEXT_LIMITS)) {
    const value = event[field as keyof typeof TEXT_LIMITS]
    if (value === null) continue
    if (typeof value !== 'string' || value === '') fail(`${field} is ${JSON.stringify(value)}, not null or text`)
    else if ([...value].length > max) fail(`${field} has more than ${max} characters`)
    else if (value.includes('\u0000') || !wellFormed(value)) fail(`${field} holds NUL or a lone surrogate`)
  }
  const ip = event.ip_address
  if (ip !== null && (isIP(ip) === 0 || normalizeIpAddress(ip) !== ip || /^::ffff:\d/i.test(ip))) fail(`ip_address ${JSON.stringify(ip)} is not canonical`)
  problems.push(...metadataViolations(event.metadata))
  return problems
}

function metadataViolations(metadata: unknown): string[] {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return ['metadata is not an object']
  const proto = Object.getPrototypeOf(metadata)
  if (proto !== Object.prototype && proto !== null) return ['metadata is not a plain object']
  const text = JSON.stringify(metadata)
  const problems: string[] = []
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) problems.push(`metadata is ${Buffer.byteLength(text)} bytes as JSON`)
  const walk = (value: unknown, depth: number): void => {
    if (typeof value === 'string') {
      if (value.includes('\u0000') || !wellFormed(value)) problems.push('metadata holds NUL or a lone surrogate')
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value) || Object.is(value, -0)) problems.push(`metadata holds the number ${value}`)
    } else if (typeof value === 'object' && value !== null) {
      if (depth > METADATA_MAX_DEPTH) problems.push(`metadata nests ${depth} levels`)
      for (const [key, inner] of Object.entries(value)) {
        walk(key, depth)
        walk(inner, depth + 1)
      }
    } else if (typeof value !== 'boolean' && value !== null) problems.push(`metadata holds a ${typeof value}`)
  }
  walk(metadata, 1)
  return problems
}

/** Problems with a list of field errors: each needs a field, a known rule and a message, and must itself be storable. */
export function fieldErrorViolations(errors: readonly FieldError[], rules: ReadonlySet<string> = VALIDATOR_RULES): string[] {
  const problems: string[] = []
  if (!Array.isArray(errors) || errors.length === 0) return ['no errors listed']
  if (errors.length > 51) problems.push(`${errors.length} errors: the list is capped at 50 plus one too_many_errors`)
  for (const error of errors) {
    const shown = JSON.stringify(error)
    if (typeof error.field !== 'string' || error.field === '') problems.push(`empty field in ${shown}`)
    if (typeof error.rule !== 'string' || !rules.has(error.rule)) problems.push(`unknown rule in ${shown}`)
    if (typeof error.message !== 'string' || error.message === '') problems.push(`empty message in ${shown}`)
    for (const text of [error.field, error.message]) {
      if (typeof text !== 'string') continue
      if (text.includes('\u0000') || !wellFormed(text)) problems.push(`error report carries NUL or a lone surrogate: ${shown}`)
      if (text.length > 2_048) problems.push(`error report text of ${text.length} chars (hostile input echoed?)`)
    }
  }
  return problems
}

/**
 * A stored event must be a fixed point of validation: fed back without `received_at`, it gives the
 * same event. Returns what differs, or [] when it holds.
 */
export function revalidationViolations(event: AuditEvent): string[] {
  const { received_at: receivedAt, ...input } = event
  const again = validateEvent(input, { receivedAt: new Date(receivedAt) })
  if (!again.ok) return [`re-validating the stored event fails: ${JSON.stringify(again.errors).slice(0, 500)}`]
  const viaJson = validateEvent(JSON.parse(JSON.stringify(input)), { receivedAt: new Date(receivedAt) })
  if (!viaJson.ok) return [`re-validating the stored event as JSON fails: ${JSON.stringify(viaJson.errors).slice(0, 500)}`]
  const problems: string[] = []
  if (!sameJson(again.event, event)) problems.push(`re-validation changed the event: ${JSON.stringify(again.event).slice(0, 300)}`)
  if (!sameJson(viaJson.event, event)) problems.push('re-validation of its JSON changed the event')
  return problems
}

/** Deep equality as JSON values, ignoring object key order (PostgreSQL jsonb reorders keys). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  if (keysA.length !== keysB.length) return false
  const recordA = a as Record<string, unknown>
  const recordB = b as Record<string, unknown>
  return keysA.every((key) => Object.hasOwn(recordB, key) && sameJson(recordA[key], recordB[key]))
}

export const ERROR_CODES = new Set(Object.keys(ERROR_CATALOG))
