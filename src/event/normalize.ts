import { describeKey } from './text.js'
import type { AuditEventInput, FieldError } from './types.js'

export type CanonicalField = keyof AuditEventInput

/** Every field a caller may send under its canonical name. */
export const INPUT_FIELDS: readonly CanonicalField[] = [
  'id', 'tenant_id', 'action', 'category', 'occurred_at', 'actor_id', 'actor_type', 'resource_type',
  'resource_id', 'success', 'error_message', 'description', 'ip_address', 'user_agent', 'session_id',
  'request_id', 'client_id', 'metadata',
  // Added with canonical form auditq.v2 (added-fields.ts).
  'actor_name', 'targets', 'changes', 'producer_id', 'producer_seq', 'subject_index', 'sealed',
]

interface Alias {
  canonical: CanonicalField
  /** Rewrites the value into the canonical field's form; must never throw. */
  convert?: (value: unknown) => unknown
}

/**
 * Legacy field names that existing producers send, mapped one by one. No shape is detected: each name
 * means the same thing wherever it appears, so a payload mixing shapes still maps predictably.
 */
export const LEGACY_ALIASES: Readonly<Record<string, Alias>> = {
  // snake_case logger (utils/audit-logger.js)
  user_id: { canonical: 'actor_id' },
  event_type: { canonical: 'action' }, // also the token-usage shape
  event_category: { canonical: 'category' },
  created_at: { canonical: 'occurred_at' },
  // camelCase queue processor (audit-processor.js, Prisma AuditLog)
  userId: { canonical: 'actor_id' },
  resourceType: { canonical: 'resource_type' },
  resourceId: { canonical: 'resource_id' },
  ipAddress: { canonical: 'ip_address' },
  userAgent: { canonical: 'user_agent' },
  sessionId: { canonical: 'session_id' },
  requestId: { canonical: 'request_id' },
  errorMessage: { canonical: 'error_message' },
  details: { canonical: 'metadata', convert: detailsToMetadata },
  timestamp: { canonical: 'occurred_at', convert: epochSecondsOrMs }, // also the token-usage shape
  // token usage (openauth token_usage table)
  token_id: { canonical: 'resource_id' },
  subject: { canonical: 'actor_id' },
}

const CANONICAL_NAMES: ReadonlySet<string> = new Set(INPUT_FIELDS)

/** A `resource_type` the token-usage shape implies: its `token_id` names a token. */
const TOKEN_RESOURCE_TYPE = 'token'

export interface FieldEntry {
  value: unknown
  /** The name the caller used, so an error points at what they actually sent. */
  sentAs: string
  /** For metadata: the path its keys are reported under, when not `sentAs` (see detailsToMetadata). */
  childPrefix?: string
}

export interface NormalizedInput {
  fields: Partial<Record<CanonicalField, FieldEntry>>
  /** Names that are neither canonical nor a legacy alias (including server-set ones like `received_at`). */
  unknownFields: string[]
  /** Alias conflicts and unreadable properties. */
  errors: FieldError[]
}

/** `null` and `""` mean "not sent"; legacy producers emit both for missing values. */
export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === ''
}

/**
 * Maps legacy field names to canonical ones. Reads only own enumerable properties, each once,
 * and reports a throwing getter as an `unreadable` error on that field.
 */
export function normalizeLegacyShape(input: object): NormalizedInput {
  const result: NormalizedInput = { fields: {}, unknownFields: [], errors: [] }
  let tokenId = false
  for (const key of Object.keys(input)) {
    const sent = readProperty(input, key)
    if (sent === UNREADABLE) {
      result.errors.push({ field: describeKey(key), rule: 'unreadable', message: 'reading this field threw an exception' })
      continue
    }
    if (CANONICAL_NAMES.has(key)) {
      mergeField(result, key as CanonicalField, { value: sent, sentAs: key })
      continue
    }
    const alias = Object.hasOwn(LEGACY_ALIASES, key) ? LEGACY_ALIASES[key] : undefined
    if (alias) {
      const value = alias.convert ? alias.convert(sent) : sent
      const entry: FieldEntry = { value, sentAs: key }
      // A wrapped bare `details` value is reported as `details`, not `details.details`.
      if (key === 'details' && isWrapped(sent, value)) entry.childPrefix = ''
      mergeField(result, alias.canonical, entry)
      if (key === 'token_id' && !isAbsent(sent)) tokenId = true
    } else {
      result.unknownFields.push(key)
    }
  }
  if (tokenId && isAbsent(result.fields.resource_type?.value)) {
    result.fields.resource_type = { value: TOKEN_RESOURCE_TYPE, sentAs: 'token_id' }
  }
  return result
}

const UNREADABLE = Symbol('unreadable')

function readProperty(input: object, key: string): unknown {
  try {
    return (input as Record<string, unknown>)[key]
  } catch {
    return UNREADABLE // a throwing getter: reported as that field's error, never thrown
  }
}

/**
 * Two names for one field must agree. A present value fills an absent one; two different present
 * values are an `alias_conflict` on the later, non-canonical name (rather than silently picking one).
 */
function mergeField(result: NormalizedInput, field: CanonicalField, incoming: FieldEntry): void {
  const existing = result.fields[field]
  if (!existing || (isAbsent(existing.value) && !isAbsent(incoming.value))) {
    result.fields[field] = incoming
    return
  }
  if (isAbsent(incoming.value) || sameValue(existing.value, incoming.value)) return
  const [kept, other] = incoming.sentAs === field ? [incoming, existing] : [existing, incoming]
  result.fields[field] = kept
  result.errors.push({
    field: describeKey(other.sentAs),
    rule: 'alias_conflict',
    message: `both ${describeKey(other.sentAs)} and ${describeKey(kept.sentAs)} set ${field}, with different values; send one`,
  })
}

/**
 * Processor `details` is a Prisma Json column: usually an object, sometimes a bare string or
 * array. Non-objects are kept under `metadata.details` so nothing the caller recorded is lost.
 */
function detailsToMetadata(value: unknown): unknown {
  if (isAbsent(value)) return undefined
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value
  return { details: value }
}

function isWrapped(sent: unknown, converted: unknown): boolean {
  return converted !== sent && converted !== undefined
}

/** Numbers below this are epoch seconds: 1e11 s is the year 5138, 1e11 ms is March 1973. */
const SECONDS_BELOW = 1e11

/** token_usage `timestamp` is epoch seconds; other producers send milliseconds or ISO strings. */
function epochSecondsOrMs(value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) >= SECONDS_BELOW) return value
  if (Number.isInteger(value)) return value * 1000
  // Round to microseconds first so float noise (1.001 * 1000 = 1000.9999…) does not lose a millisecond.
  return Math.floor(Math.round(value * 1e6) / 1000)
}

/** Values equal as JSON; bounded, because both sides may be hostile nested objects. */
function sameValue(a: unknown, b: unknown): boolean {
  try {
    return equalWithin(a, b, 0, { nodes: 1000 })
  } catch {
    return false // a getter threw: report the conflict rather than guess the values agree
  }
}

function equalWithin(a: unknown, b: unknown, depth: number, budget: { nodes: number }): boolean {
  // As JSON: 0 and -0 serialize alike, so they agree (=== also says NaN differs, which JSON cannot carry).
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (depth > 10 || --budget.nodes < 0) return false
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  if (keysA.length !== keysB.length) return false
  const recordA = a as Record<string, unknown>
  const recordB = b as Record<string, unknown>
  return keysA.every((key) => Object.hasOwn(b, key) && equalWithin(recordA[key], recordB[key], depth + 1, budget))
}
