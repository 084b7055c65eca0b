import { AuditqError } from '../errors.js'
import type { FieldError } from '../event/types.js'

/**
 * What a viewer token allows: one tenant, optionally narrowed to one actor's events or to events
 * on given resource types, read and optionally CSV export, for a bounded time. Plain data with
 * no I/O: both the SDK (minting without a round trip) and the service (minting over HTTP,
 * checking every viewer request) validate through here, so they cannot drift apart.
 */
export const VIEWER_PERMISSIONS = ['read', 'export'] as const
export type ViewerPermission = (typeof VIEWER_PERMISSIONS)[number]

export interface ViewerRestrictions {
  /** Only this actor's events. */
  actor_id?: string
  /** Only events whose `resource_type` is one of these. */
  resource_types?: string[]
}

export interface ViewerTokenRequest {
  tenant_id: string
  restrictions?: ViewerRestrictions
  /** `read` is always granted; add `export` to allow CSV export. Default: `['read']`. */
  permissions?: ViewerPermission[]
  /** Lifetime; default 900 (15 minutes), at most 3600. */
  ttl_seconds?: number
}

/** A verified token, as the viewer routes use it. */
export interface ViewerGrant {
  tenant_id: string
  restrictions: ViewerRestrictions
  permissions: ViewerPermission[]
  expires_at: string
}

export const DEFAULT_TTL_SECONDS = 15 * 60
export const MAX_TTL_SECONDS = 60 * 60
const MAX_TEXT = 256
const MAX_RESOURCE_TYPES = 20
const REQUEST_KEYS = new Set(['tenant_id', 'restrictions', 'permissions', 'ttl_seconds'])
const RESTRICTION_KEYS = new Set(['actor_id', 'resource_types'])

/** Checks an untrusted mint request (an HTTP body, an SDK call), naming every broken field at once. */
export function parseViewerTokenRequest(raw: unknown): Required<Omit<ViewerTokenRequest, 'restrictions'>> & { restrictions: ViewerRestrictions } {
  const errors: FieldError[] = []
  const body = isObject(raw) ? raw : {}
  if (!isObject(raw)) errors.push({ field: '(body)', rule: 'type', message: 'must be a JSON object' })
  for (const key of Object.keys(body)) {
    if (!REQUEST_KEYS.has(key)) errors.push({ field: key, rule: 'unknown_field', message: `unknown field; expected one of ${[...REQUEST_KEYS].join(', ')}` })
  }
  const tenant = text(body.tenant_id, 'tenant_id', errors, { required: true })
  const restrictions = parseRestrictions(body.restrictions, errors)
  const permissions = parsePermissions(body.permissions, errors)
  let ttl = DEFAULT_TTL_SECONDS
  if (body.ttl_seconds !== undefined) {
    if (typeof body.ttl_seconds === 'number' && Number.isInteger(body.ttl_seconds) && body.ttl_seconds >= 1 && body.ttl_seconds <= MAX_TTL_SECONDS) ttl = body.ttl_seconds
    else errors.push({ field: 'ttl_seconds', rule: 'range', message: `must be an integer from 1 to ${MAX_TTL_SECONDS} (one hour)` })
  }
  if (errors.length > 0) {
    throw new AuditqError('AUDITQ_VALIDATION', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { details: errors })
  }
  return { tenant_id: tenant!, restrictions, permissions, ttl_seconds: ttl }
}

function parseRestrictions(raw: unknown, errors: FieldError[]): ViewerRestrictions {
  if (raw === undefined || raw === null) return {}
  if (!isObject(raw)) {
    errors.push({ field: 'restrictions', rule: 'type', message: 'must be an object' })
    return {}
  }
  const out: ViewerRestrictions = {}
  for (const key of Object.keys(raw)) {
    if (!RESTRICTION_KEYS.has(key)) errors.push({ field: `restrictions.${key}`, rule: 'unknown_field', message: 'unknown restriction; expected actor_id or resource_types' })
  }
  const actor = text(raw.actor_id, 'restrictions.actor_id', errors, { required: false })
  if (actor !== undefined) out.actor_id = actor
  if (raw.resource_types !== undefined) {
    const types = raw.resource_types
    if (!Array.isArray(types) || types.length === 0 || types.length > MAX_RESOURCE_TYPES) {
      errors.push({ field: 'restrictions.resource_types', rule: 'length', message: `must be a list of 1–${MAX_RESOURCE_TYPES} resource types` })
    } else {
      const checked = types.map((type, i) => text(type, `restrictions.resource_types[${i}]`, errors, { required: true }))
      if (checked.every((t) => t !== undefined)) out.resource_types = [...new Set(checked as string[])]
    }
  }
  return out
}

function parsePermissions(raw: unknown, errors: FieldError[]): ViewerPermission[] {
  if (raw === undefined) return ['read']
  if (!Array.isArray(raw) || !raw.every((p) => (VIEWER_PERMISSIONS as readonly unknown[]).includes(p))) {
    errors.push({ field: 'permissions', rule: 'enum', message: `must be a list of ${VIEWER_PERMISSIONS.join(', ')}` })
    return ['read']
  }
  // Read is what the viewer is for; a token that could only export would be a strange half-grant.
  return VIEWER_PERMISSIONS.filter((p) => p === 'read' || raw.includes(p))
}

function text(value: unknown, field: string, errors: FieldError[], options: { required: boolean }): string | undefined {
  if (value === undefined && !options.required) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT || value.includes('\u0000')) {
    errors.push({ field, rule: 'string', message: `must be a string of 1–${MAX_TEXT} characters without NUL` })
    return undefined
  }
  return value
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
