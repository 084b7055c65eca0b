import type { FieldError } from './types.js'

/** ES2024's String.prototype.isWellFormed (Node >= 20); our `lib` setting predates its typing. */
type WellFormedString = string & { isWellFormed(): boolean }

export interface TextProblem {
  rule: string
  message: string
}

/**
 * The checks every stored string must pass, cheapest first so a 10 MB string is refused by its
 * length before anything scans it. NUL and lone surrogates are refused because PostgreSQL `text`
 * and `jsonb` reject them, and one such value would otherwise fail a whole database batch.
 */
export function textProblem(value: string, maxChars: number): TextProblem | undefined {
  if (exceedsCodePoints(value, maxChars)) return { rule: 'max_length', message: tooLong(value, maxChars) }
  return encodingProblem(value)
}

/** "must be at most 256 characters; got 300": every refusal names the limit and the value seen. */
export function tooLong(value: string, maxChars: number): string {
  return `must be at most ${maxChars} characters; got ${describeLength(value)}`
}

/**
 * The length in code points; past 1 MiB of UTF-16 the exact count is not worth a scan of the
 * whole string, so it says "more than" the bound the UTF-16 length proves.
 */
function describeLength(value: string): string {
  if (value.length > 1_048_576) return `more than ${Math.floor(value.length / 2)}`
  let count = 0
  for (const _ of value) count++
  return String(count)
}

export function encodingProblem(value: string): TextProblem | undefined {
  if (value.includes('\u0000')) return { rule: 'no_nul', message: 'must not contain the NUL character (U+0000)' }
  if (!(value as WellFormedString).isWellFormed()) {
    return { rule: 'unicode', message: 'must be well-formed Unicode (it contains a lone surrogate)' }
  }
  return undefined
}

/**
 * Limits count Unicode characters (code points), as PostgreSQL's varchar(n) does, not UTF-16
 * units. Code points never exceed UTF-16 length nor fall below half of it, which settles most
 * strings without iterating.
 */
export function exceedsCodePoints(value: string, max: number): boolean {
  if (value.length <= max) return false
  if (value.length > 2 * max) return true
  let count = 0
  for (const _ of value) if (++count > max) return true
  return false
}

const SIMPLE_KEY = /^[A-Za-z0-9_$-]{1,64}$/
const MAX_KEY_IN_PATH = 64

/**
 * A field name or metadata key as it appears in an error path. Odd keys are quoted with
 * JSON.stringify, which escapes NUL and lone surrogates, and long keys are cut: error reports are
 * logged and stored too, and must not carry the very bytes they complain about.
 */
export function describeKey(key: string): string {
  if (SIMPLE_KEY.test(key)) return key
  const shown = key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key
  return JSON.stringify(shown)
}

/** Appends a key to a dotted path: `metadata.a.b`, or `metadata["a.b"]` for keys that need quoting. */
export function joinPath(path: string, key: string): string {
  const shown = describeKey(key)
  if (path === '') return shown
  return shown.startsWith('"') ? `${path}[${shown}]` : `${path}.${shown}`
}

/** Collects field errors up to a cap, so a hostile payload cannot make the report itself huge. */
export class ErrorList {
  readonly items: FieldError[] = []
  private dropped = 0

  constructor(private readonly max = 50) {}

  add(field: string, rule: string, message: string): void {
    if (this.items.length < this.max) this.items.push({ field, rule, message })
    else this.dropped += 1
  }

  get full(): boolean {
    return this.items.length >= this.max
  }

  /** The list to return, ending with one `too_many_errors` entry when some were left out. */
  finish(): FieldError[] {
    if (this.dropped === 0) return this.items
    return [...this.items, { field: '(root)', rule: 'too_many_errors', message: `${this.dropped} more errors not shown` }]
  }
}
