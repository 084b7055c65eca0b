import { ErrorList, joinPath } from './text.js'

/** Bytes of `JSON.stringify(metadata)` as UTF-8: big enough for context, small enough for a row. */
export const METADATA_MAX_BYTES = 16 * 1024
/** Nesting levels, metadata itself being level 1: deep enough for real context, shallow for jsonb. */
export const METADATA_MAX_DEPTH = 8
/** Metadata errors kept per event; past that, more paths tell the caller nothing new. */
const METADATA_MAX_ERRORS = 20

export interface MetadataLabels {
  /** Field name for errors about the metadata as a whole (`metadata`, or `details` as sent). */
  root: string
  /** Path that child keys are appended to (usually the same as `root`). */
  prefix: string
}

export interface MetadataResult {
  /** The JSON round-tripped value (equal to `JSON.parse(JSON.stringify(input))`) when there were no errors. */
  value: Record<string, unknown>
  errors: ErrorList
}

/**
 * Checks and copies metadata in one walk, reading every property exactly once (a getter may
 * answer differently, or throw, the second time). The walk counts the exact UTF-8 size of the
 * JSON it stands for and stops as soon as that passes the limit, so neither a huge string nor a
 * wide graph of shared references can make validation slow. JSON.stringify is never called on the
 * input: it throws on cycles and BigInt and silently changes NaN, functions and Maps.
 */
export function checkMetadata(input: unknown, labels: MetadataLabels): MetadataResult {
  const walk = new MetadataWalk(labels)
  if (!isPlainObject(input)) {
    walk.errors.add(labels.root, 'type', 'must be a JSON object (not an array, string or class instance)')
    return { value: {}, errors: walk.errors }
  }
  const value = walk.visit(input, labels.prefix, 1) as Record<string, unknown>
  if (walk.bytes > METADATA_MAX_BYTES) {
    // The walk stops counting once past the limit, so the figure is a lower bound.
    walk.errors.add(labels.root, 'max_bytes', `must be at most ${METADATA_MAX_BYTES} bytes as JSON (UTF-8); got at least ${walk.bytes}`)
  }
  return { value, errors: walk.errors }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Marks a property JSON.stringify would leave out (an `undefined` value). */
const OMIT = Symbol('omit')

class MetadataWalk {
  readonly errors = new ErrorList(METADATA_MAX_ERRORS)
  bytes = 0
  private readonly ancestors = new Set<object>()

  constructor(private readonly labels: MetadataLabels) {}

  private get stopped(): boolean {
    return this.bytes > METADATA_MAX_BYTES || this.errors.full
  }

  visit(value: unknown, path: string, depth: number): unknown {
    switch (typeof value) {
      case 'string':
        return this.visitString(value, path)
      case 'number':
        if (!Number.isFinite(value)) return this.refuse(path, 'json_value', 'NaN and Infinity have no JSON form')
        this.bytes += String(value).length
        return value === 0 ? 0 : value // JSON has no -0
      case 'boolean':
        this.bytes += value ? 4 : 5
        return value
      case 'object':
        return value === null ? this.visitNull() : this.visitObjectSafely(value, path, depth)
      default:
        return this.refuse(path, 'json_value', `a ${typeof value} has no JSON form`)
    }
  }

  private visitNull(): null {
    this.bytes += 4
    return null
  }

  private visitString(value: string, path: string): string {
    const bytes = jsonStringBytes(value, METADATA_MAX_BYTES - this.bytes)
    this.bytes += bytes.count
    if (bytes.nul) this.errors.add(path, 'no_nul', 'must not contain the NUL character (U+0000)')
    if (bytes.loneSurrogate) this.errors.add(path, 'unicode', 'must be well-formed Unicode (it contains a lone surrogate)')
    return value
  }

  /** Proxies can throw from any trap (prototype, length, keys); that is the caller's data, not our fault. */
  private visitObjectSafely(value: object, path: string, depth: number): unknown {
    try {
      return this.visitObject(value, path, depth)
    } catch {
      return this.refuse(path || this.labels.root, 'unreadable', 'reading it threw an exception')
    }
  }

  private visitObject(value: object, path: string, depth: number): unknown {
    const time = dateTime(value)
    if (time !== undefined) {
      // Dates are what SDK callers naturally put here; JSON stores them as ISO strings.
      if (Number.isNaN(time)) return this.refuse(path, 'json_value', 'an invalid Date has no JSON form')
      return this.visitString(new Date(time).toISOString(), path)
    }
    const isArray = Array.isArray(value)
    if (!isArray && !isPlainObject(value)) {
      return this.refuse(path, 'json_value', 'only plain objects, arrays, strings, finite numbers, booleans and null are allowed')
    }
    if (depth > METADATA_MAX_DEPTH) {
      return this.refuse(path, 'max_depth', `reaches nesting level ${depth}; the limit is ${METADATA_MAX_DEPTH} levels (metadata itself is level 1)`)
    }
    if (this.ancestors.has(value)) return this.refuse(path, 'cycle', 'refers back to an object that contains it')
    this.ancestors.add(value)
    try {
      return isArray ? this.visitArray(value, path, depth) : this.visitEntries(value as Record<string, unknown>, path, depth)
    } finally {
      this.ancestors.delete(value)
    }
  }

  private visitArray(array: readonly unknown[], path: string, depth: number): unknown[] {
    // Brackets and commas first: a sparse array of length 1e9 is refused before any iteration.
    this.bytes += 2 + Math.max(0, array.length - 1)
    const copy: unknown[] = []
    for (let i = 0; i < array.length && !this.stopped; i++) {
      const itemPath = `${path}.${i}`
      const item = this.read(array, i, itemPath)
      if (item === OMIT) continue
      if (item === undefined) {
        this.refuse(itemPath, 'json_value', 'undefined inside an array would be stored as null')
        continue
      }
      copy.push(this.visit(item, itemPath, depth + 1))
    }
    return copy
  }

  private visitEntries(object: Record<string, unknown>, path: string, depth: number): Record<string, unknown> {
    const copy: Record<string, unknown> = {}
    const keys = this.keysOf(object, path)
    let written = 0
    this.bytes += 2
    for (const key of keys) {
      if (this.stopped) break
      const keyPath = joinPath(path, key)
      const value = this.read(object, key, keyPath)
      // JSON.stringify drops undefined properties; so do we, as TypeScript optional fields produce them.
      if (value === undefined || value === OMIT) continue
      this.bytes += (written > 0 ? 1 : 0) + 1 // comma, colon
      this.visitString(key, keyPath)
      setOwn(copy, key, this.visit(value, keyPath, depth + 1))
      written += 1
    }
    return copy
  }

  private keysOf(object: object, path: string): string[] {
    try {
      // Sorted (UTF-16 order, the canonical form's), so the stored copy already has canonical key
      // order and hashing it needs no reordering (integrity/canonical.ts, stringifiesCanonically).
      return Object.keys(object).sort()
    } catch {
      this.refuse(path || this.labels.root, 'unreadable', 'its keys could not be read (a proxy threw)')
      return []
    }
  }

  /** Reads one property; a throwing getter or proxy trap becomes an error on that path. */
  private read(container: object, key: string | number, path: string): unknown {
    try {
      return (container as Record<string | number, unknown>)[key]
    } catch {
      this.refuse(path, 'unreadable', 'reading it threw an exception')
      return OMIT
    }
  }

  private refuse(path: string, rule: string, message: string): typeof OMIT {
    this.errors.add(path, rule, message)
    return OMIT
  }
}

/** Epoch ms of a Date (NaN when invalid), undefined for anything else. */
function dateTime(value: object): number | undefined {
  if (!(value instanceof Date)) return undefined
  try {
    return value.getTime()
  } catch {
    return Number.NaN // a Date subclass or proxy without the internal slot
  }
}

/** `__proto__` is data here, so it is defined as an own property rather than set (which would swap the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

interface StringBytes {
  count: number
  nul: boolean
  loneSurrogate: boolean
}

/**
 * UTF-8 length of `JSON.stringify(value)`, with NUL and lone-surrogate detection in the same
 * pass. Gives up (returning a lower bound) once the count passes `budget`: the string's UTF-16
 * length alone can already prove it too large.
 */
export function jsonStringBytes(value: string, budget: number): StringBytes {
  const result = { count: value.length + 2, nul: false, loneSurrogate: false }
  if (result.count > budget) return result
  let count = 2
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20) {
      if (c === 0) result.nul = true
      count += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6 // \b \t \n \f \r, else \u00XX
    } else if (c === 0x22 || c === 0x5c) count += 2
    else if (c < 0x80) count += 1
    else if (c < 0x800) count += 2
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(value.charCodeAt(i + 1))) {
      count += 4
      i += 1
    } else if (c >= 0xd800 && c <= 0xdfff) {
      result.loneSurrogate = true
      count += 6 // JSON.stringify escapes a lone surrogate as \uXXXX
    } else count += 3
  }
  result.count = count
  return result
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff
}
