import { AuditqError } from '../errors.js'
import { CATEGORIES, type Category, type FieldError } from '../event/types.js'
import type { EventFilter } from './event-filter.js'

const STRING_FILTERS = ['actor_id', 'action', 'resource_type', 'resource_id', 'tenant_id'] as const
const FILTER_KEYS = new Set<string>([...STRING_FILTERS, 'category', 'success', 'from', 'to'])
const MAX_FILTER_LENGTH = 256

/**
 * Turns untrusted key/value pairs (a query string, CLI flags) into an `EventFilter`, collecting
 * every problem at once. `extraKeys` are keys the caller handles itself (limit, cursor, format);
 * anything else is refused so a typo like `actor=` fails loudly instead of matching everything.
 */
export function parseEventFilter(raw: Record<string, unknown>, extraKeys: readonly string[] = []): EventFilter {
  const errors: FieldError[] = []
  const filter: EventFilter = {}
  const allowed = new Set([...FILTER_KEYS, ...extraKeys])
  for (const key of Object.keys(raw)) {
    if (!allowed.has(key)) {
      errors.push({ field: key, rule: 'unknown_parameter', message: `unknown parameter; expected one of ${[...allowed].join(', ')}` })
    }
  }
  for (const key of STRING_FILTERS) {
    const value = single(raw, key, errors)
    if (value === undefined) continue
    if (value.length === 0 || value.length > MAX_FILTER_LENGTH) {
      errors.push({ field: key, rule: 'length', message: `must be 1–${MAX_FILTER_LENGTH} characters` })
    } else if (value.includes('\u0000')) {
      // No stored value can hold NUL (the validator refuses it), and PostgreSQL rejects it in a parameter.
      errors.push({ field: key, rule: 'no_nul', message: 'must not contain NUL characters' })
    } else filter[key] = value
  }
  const category = single(raw, 'category', errors)
  if (category !== undefined) {
    if ((CATEGORIES as readonly string[]).includes(category)) filter.category = category as Category
    else errors.push({ field: 'category', rule: 'enum', message: `must be one of ${CATEGORIES.join(', ')}` })
  }
  const success = single(raw, 'success', errors)
  if (success !== undefined) {
    if (success === 'true' || success === 'false') filter.success = success === 'true'
    else errors.push({ field: 'success', rule: 'boolean', message: 'must be true or false' })
  }
  for (const key of ['from', 'to'] as const) {
    const value = single(raw, key, errors)
    if (value === undefined) continue
    const iso = parseInstant(value)
    if (iso) filter[key] = iso
    else errors.push({ field: key, rule: 'timestamp', message: 'must be an ISO-8601 time with a zone (e.g. 2026-01-31T00:00:00Z) or epoch milliseconds, between 1970 and 9999' })
  }
  if (errors.length > 0) throw badRequest(errors)
  return filter
}

/** Reads a single string value; repeated parameters (`?a=1&a=2`) are an error, not a guess. */
export function single(raw: Record<string, unknown>, key: string, errors: FieldError[]): string | undefined {
  const value = raw[key]
  if (value === undefined) return undefined
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value !== 'string') {
    errors.push({ field: key, rule: 'single_value', message: 'must be given once, as a string' })
    return undefined
  }
  return value
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i

/** Events are stored between 1970 and 9999; outside it a bound is an error, not a query the store cannot parse. */
export const EARLIEST_INSTANT_MS = 0
export const LATEST_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z')

/** ISO-8601 with a zone, a bare date (UTC midnight), or epoch milliseconds → ISO with ms. */
export function parseInstant(value: string): string | undefined {
  let ms: number
  if (/^-?\d{1,16}$/.test(value)) ms = Number(value)
  else if (ISO_WITH_ZONE.test(value)) ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value)
  else return undefined
  if (!Number.isFinite(ms) || ms < EARLIEST_INSTANT_MS || ms > LATEST_INSTANT_MS) return undefined
  return new Date(ms).toISOString()
}

export function badRequest(errors: FieldError[]): AuditqError {
  const summary = errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  return new AuditqError('AUDITQ_BAD_REQUEST', summary, { details: errors })
}
