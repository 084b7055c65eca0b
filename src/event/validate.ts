import { checkAddedFields } from './added-fields.js'
import { newEventId } from './event-id.js'
import { normalizeIpAddress } from './ip.js'
import { checkMetadata } from './metadata.js'
import { isAbsent, normalizeLegacyShape, type CanonicalField, type FieldEntry, type NormalizedInput } from './normalize.js'
import { ErrorList, describeKey, encodingProblem, textProblem, tooLong } from './text.js'
import { parseOccurredAt, toIsoMillis } from './timestamp.js'
import { CATEGORIES, type AuditEvent, type Category, type ValidationResult } from './types.js'

export interface ValidateOptions {
  /** When the event reached us; becomes `received_at` and the default `occurred_at`. */
  receivedAt: Date
  /** Tenant for events that name none (default `default`). */
  defaultTenant?: string
}

/** Optional text fields and their limits in characters (code points). */
export const TEXT_LIMITS = {
  actor_id: 256,
  actor_type: 256,
  resource_type: 256,
  resource_id: 256,
  session_id: 256,
  request_id: 256,
  client_id: 256,
  // Error messages often carry a cause chain or an upstream response: 256 would cut the useful part.
  error_message: 2048,
  description: 2048,
  user_agent: 1024,
} as const satisfies Partial<Record<CanonicalField, number>>

type TextField = keyof typeof TEXT_LIMITS

export const ACTION_MAX = 128
export const TENANT_MAX = 128
export const ACTION_PATTERN = /^[A-Za-z0-9._:/-]+$/
export const TENANT_PATTERN = /^[A-Za-z0-9._:-]+$/
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Fields only the server sets; a client sending one is told so instead of being ignored. */
const SERVER_FIELDS = new Set(['received_at'])

/**
 * Checks an event against every field rule and returns either the complete stored form or all
 * failing fields at once. Legacy payload shapes are mapped first (see normalize.ts). Never throws,
 * whatever the input: SDK callers log from request paths that must not fail because of auditing.
 */
export function validateEvent(input: unknown, options: ValidateOptions): ValidationResult {
  try {
    return validateObject(input, options)
  } catch {
    // Every known hazard is caught nearer its source; this is the backstop for the unknown ones.
    return rootFailure('unreadable', 'the event could not be read (a getter or proxy threw)')
  }
}

function rootFailure(rule: string, message: string): ValidationResult {
  return { ok: false, errors: [{ field: '(root)', rule, message }] }
}

function validateObject(input: unknown, options: ValidateOptions): ValidationResult {
  const receivedAtMs = validDateMs(options.receivedAt)
  if (receivedAtMs === undefined) {
    return { ok: false, errors: [{ field: '(options).receivedAt', rule: 'invalid_option', message: 'must be a valid Date' }] }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return rootFailure('type', `an event must be a JSON object, not ${describeType(input)}`)
  }
  const normalized = normalizeLegacyShape(input)
  const errors = new ErrorList()
  for (const error of normalized.errors) errors.add(error.field, error.rule, error.message)
  const event = buildEvent(normalized, errors, { receivedAtMs, defaultTenant: options.defaultTenant })
  reportUnknownFields(normalized.unknownFields, errors)
  return errors.items.length === 0 ? { ok: true, event } : { ok: false, errors: errors.finish() }
}

function validDateMs(value: unknown): number | undefined {
  if (!(value instanceof Date)) return undefined
  const ms = value.getTime()
  return Number.isNaN(ms) ? undefined : ms
}

function describeType(value: unknown): string {
  if (value === null) return 'null'
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

interface BuildContext {
  receivedAtMs: number
  defaultTenant: string | undefined
}

/** Builds the stored form; fields that fail leave a placeholder and an error, and the event is discarded. */
function buildEvent(input: NormalizedInput, errors: ErrorList, ctx: BuildContext): AuditEvent {
  const f = input.fields
  const text = (field: TextField) => checkText(f[field], field, TEXT_LIMITS[field], errors)
  const receivedAt = toIsoMillis(ctx.receivedAtMs)
  return {
    id: checkId(f.id, errors),
    tenant_id: checkTenant(f.tenant_id, ctx.defaultTenant, errors),
    occurred_at: checkOccurredAt(f.occurred_at, ctx.receivedAtMs, errors) ?? receivedAt,
    received_at: receivedAt,
    action: checkAction(f.action, errors),
    category: checkCategory(f.category, errors),
    actor_id: text('actor_id'),
    actor_type: text('actor_type'),
    resource_type: text('resource_type'),
    resource_id: text('resource_id'),
    success: checkSuccess(f.success, errors),
    error_message: text('error_message'),
    description: text('description'),
    ip_address: checkIpAddress(f.ip_address, errors),
    user_agent: text('user_agent'),
    session_id: text('session_id'),
    request_id: text('request_id'),
    client_id: text('client_id'),
    metadata: checkMetadataField(f.metadata, errors),
    ...checkAddedFields(f, errors),
  }
}

/** " (actor_id)" when the caller used a legacy name, so the message also names the canonical field. */
function via(entry: FieldEntry, field: CanonicalField): string {
  return entry.sentAs === field ? '' : ` (${field})`
}

/** The string value of a present field, or undefined after reporting a `type` error. */
function presentString(entry: FieldEntry, field: CanonicalField, errors: ErrorList): string | undefined {
  if (typeof entry.value === 'string') return entry.value
  errors.add(entry.sentAs, 'type', `must be a string${via(entry, field)}`)
  return undefined
}

/**
 * Identifier fields that legacy systems often send as integers (`user_id: 42`). A safe integer has
 * exactly one decimal spelling, so storing it as that text loses nothing; other numbers stay errors.
 */
const INTEGER_FRIENDLY = new Set<CanonicalField>(['actor_id', 'resource_id', 'session_id', 'request_id', 'client_id'])

function checkText(entry: FieldEntry | undefined, field: CanonicalField, max: number, errors: ErrorList): string | null {
  if (!entry || isAbsent(entry.value)) return null
  if (INTEGER_FRIENDLY.has(field) && Number.isSafeInteger(entry.value)) return String(entry.value)
  const value = presentString(entry, field, errors)
  if (value === undefined) return null
  const problem = textProblem(value, max)
  if (problem) errors.add(entry.sentAs, problem.rule, `${problem.message}${via(entry, field)}`)
  return value
}

function checkPatterned(entry: FieldEntry, field: CanonicalField, spec: PatternSpec, errors: ErrorList): string | undefined {
  const value = presentString(entry, field, errors)
  if (value === undefined) return undefined
  const problem = patternProblem(value, spec)
  if (problem) errors.add(entry.sentAs, problem.rule, `${problem.message}${via(entry, field)}`)
  return value
}

interface PatternSpec {
  max: number
  pattern: RegExp
  allowed: string
}

/** NUL and lone surrogates get their own rule names even though the ASCII pattern also refuses them. */
function patternProblem(value: string, spec: PatternSpec): { rule: string; message: string } | undefined {
  if (value.length > spec.max) return { rule: 'max_length', message: tooLong(value, spec.max) }
  if (spec.pattern.test(value)) return undefined
  return encodingProblem(value) ?? { rule: 'pattern', message: `may contain only ${spec.allowed}` }
}

const ACTION_SPEC: PatternSpec = { max: ACTION_MAX, pattern: ACTION_PATTERN, allowed: 'letters, digits and . _ : / -' }
const TENANT_SPEC: PatternSpec = { max: TENANT_MAX, pattern: TENANT_PATTERN, allowed: 'letters, digits and . _ : -' }

function checkAction(entry: FieldEntry | undefined, errors: ErrorList): string {
  if (!entry || isAbsent(entry.value)) {
    errors.add(entry?.sentAs ?? 'action', 'required', 'action is required (e.g. "api_key.created")')
    return ''
  }
  return checkPatterned(entry, 'action', ACTION_SPEC, errors) ?? ''
}

function checkTenant(entry: FieldEntry | undefined, defaultTenant: string | undefined, errors: ErrorList): string {
  if (entry && !isAbsent(entry.value)) return checkPatterned(entry, 'tenant_id', TENANT_SPEC, errors) ?? ''
  const tenant = defaultTenant ?? 'default'
  // A bad default would fail every event of the process: name the option, not the caller's event.
  if (patternProblem(tenant, TENANT_SPEC)) errors.add('(options).defaultTenant', 'invalid_option', 'defaultTenant breaks the tenant_id rules')
  return tenant
}

function checkId(entry: FieldEntry | undefined, errors: ErrorList): string {
  if (!entry || isAbsent(entry.value)) return newEventId()
  const value = presentString(entry, 'id', errors)
  if (value === undefined) return ''
  if (value.length !== 36 || !UUID_PATTERN.test(value)) {
    errors.add(entry.sentAs, 'uuid', 'must be a UUID such as 0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70')
    return ''
  }
  return value.toLowerCase()
}

/** The ISO text of a sent `occurred_at`, or undefined when absent (the caller defaults it to `received_at`). */
function checkOccurredAt(entry: FieldEntry | undefined, receivedAtMs: number, errors: ErrorList): string | undefined {
  if (!entry || isAbsent(entry.value)) return undefined
  const parsed = parseOccurredAt(entry.value, receivedAtMs)
  if (parsed.ok) return toIsoMillis(parsed.ms)
  errors.add(entry.sentAs, parsed.rule, `${parsed.message}${via(entry, 'occurred_at')}`)
  return ''
}

function checkCategory(entry: FieldEntry | undefined, errors: ErrorList): Category {
  if (!entry || isAbsent(entry.value)) return 'info'
  if ((CATEGORIES as readonly unknown[]).includes(entry.value)) return entry.value as Category
  errors.add(entry.sentAs, 'enum', `must be one of ${CATEGORIES.join(', ')}${via(entry, 'category')}`)
  return 'info'
}

/** Absent means success: most audited actions succeed, and failures are the ones callers mark. */
function checkSuccess(entry: FieldEntry | undefined, errors: ErrorList): boolean {
  // Only null/undefined count as absent here: "" silently becoming `true` would misreport a failure.
  if (!entry || entry.value === undefined || entry.value === null) return true
  if (typeof entry.value === 'boolean') return entry.value
  errors.add(entry.sentAs, 'type', 'must be true or false')
  return true
}

const IP_MAX = 64 // longest legal text form (with an embedded IPv4) is 45; anything longer is not an address

function checkIpAddress(entry: FieldEntry | undefined, errors: ErrorList): string | null {
  if (!entry || isAbsent(entry.value)) return null
  const value = presentString(entry, 'ip_address', errors)
  if (value === undefined) return null
  if (value.length > IP_MAX) {
    errors.add(entry.sentAs, 'ip_address', `is ${value.length} characters, too long to be an IP address (at most ${IP_MAX})${via(entry, 'ip_address')}`)
    return null
  }
  const normalized = normalizeIpAddress(value)
  if (normalized === null) {
    const problem = encodingProblem(value)
    if (problem) errors.add(entry.sentAs, problem.rule, `${problem.message}${via(entry, 'ip_address')}`)
    else errors.add(entry.sentAs, 'ip_address', `must be one IPv4 or IPv6 address, without a zone id or prefix length${via(entry, 'ip_address')}`)
  }
  return normalized
}

function checkMetadataField(entry: FieldEntry | undefined, errors: ErrorList): Record<string, unknown> {
  // Only null/undefined are absent: metadata "" is a type error, not an empty object.
  if (!entry || entry.value === undefined || entry.value === null) return {}
  const result = checkMetadata(entry.value, { root: entry.sentAs, prefix: entry.childPrefix ?? entry.sentAs })
  for (const error of result.errors.items) errors.add(error.field, error.rule, error.message)
  return result.value
}

function reportUnknownFields(names: readonly string[], errors: ErrorList): void {
  for (const name of names) {
    if (SERVER_FIELDS.has(name)) {
      errors.add(name, 'server_set', `${name} is set by the server when the event arrives; remove it`)
    } else {
      errors.add(describeKey(name), 'unknown_field', 'is not an event field (check spelling; extra context goes in metadata)')
    }
  }
}
