/**
 * The record of one access to the trail (or one lifecycle step of auditq itself) as a chained
 * audit event in the reserved `auditq.*` namespace. Pure: the recorder decides when to write it.
 */
import { normalizeIpAddress } from '../event/ip.js'
import { RESERVED_PREFIX } from '../event/reserved.js'
import { noAddedFields, type AuditEvent } from '../event/types.js'
import { newEventId } from '../event/event-id.js'

/**
 * Everything auditq records about access to the trail and about itself. Reads (the first group)
 * are aggregated when repeated; every other kind is written once per occurrence.
 */
export const ACCESS_READS = ['query', 'export', 'report', 'integrity.verify', 'integrity.proof', 'completeness', 'feed.read'] as const
export const ACCESS_CHANGES = [
  'stream.change',
  'stream.replay',
  'key.create',
  'key.revoke',
  'retention.run',
  'retention.tenant_rule',
  'hold.create',
  'hold.release',
  'service.start',
  'service.stop',
  'queue.pause',
  'queue.overflow',
  'dlq.purge',
] as const
export type AccessRead = (typeof ACCESS_READS)[number]
export type AccessKind = AccessRead | (typeof ACCESS_CHANGES)[number]

const READS: ReadonlySet<string> = new Set(ACCESS_READS)
export const isRead = (kind: AccessKind): kind is AccessRead => READS.has(kind)

/** Who accessed: an API key (its id and name), the open loopback mode, the command line, or auditq itself. */
export interface AccessActor {
  kind: 'api_key' | 'open' | 'cli' | 'system'
  /** Key id for `api_key`, the OS user for `cli`, null otherwise. */
  id: string | null
  name?: string | null
}

export interface AccessRecord {
  kind: AccessKind
  actor: AccessActor
  /** The tenant whose trail was accessed (the record's `resource_id`); null = all tenants (`*`). */
  tenant: string | null
  /** What was asked for — the filter or parameters, never the results. */
  what: Record<string, unknown>
  /** Where from, for HTTP: client address, user agent, request id. */
  from?: { ip?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined }
  /** False when the access was refused or failed (a refused hold release, a failed run). Default true. */
  success?: boolean
  description?: string
}

/** How many identical reads an aggregate event stands for. */
export interface Aggregate {
  count: number
  first_at: string
  last_at: string
  window_ms: number
}

export const accessAction = (kind: AccessKind) => `${RESERVED_PREFIX}${kind}`

const MAX_TEXT = 256

export function accessEvent(record: AccessRecord, options: { systemTenant: string; now: Date; aggregate?: Aggregate }): AuditEvent {
  const at = options.now.toISOString()
  const from = record.from ?? {}
  const actorId = record.actor.id ?? (record.actor.kind === 'system' ? 'auditq' : record.actor.kind)
  return {
    id: newEventId(),
    // Every record goes into the system tenant's chain; the tenant accessed is the resource.
    tenant_id: options.systemTenant,
    action: accessAction(record.kind),
    category: record.kind === 'service.stop' || record.kind === 'queue.pause' || record.kind === 'queue.overflow' ? 'warning' : 'info',
    occurred_at: options.aggregate?.last_at ?? at,
    received_at: at,
    actor_id: actorId.slice(0, MAX_TEXT),
    actor_type: record.actor.kind,
    resource_type: 'audit_trail',
    resource_id: record.tenant === null ? '*' : String(storableWhat(record.tenant)),
    success: record.success ?? true,
    error_message: null,
    description: record.description ?? null,
    ip_address: from.ip === undefined ? null : normalizeIpAddress(from.ip),
    user_agent: from.userAgent?.slice(0, MAX_TEXT) ?? null,
    session_id: null,
    request_id: from.requestId ?? null,
    client_id: null,
    ...noAddedFields(),
    // The key's name, for a viewer's display line; also kept in metadata, where readers of the
    // trail before the field existed look for it.
    actor_name: record.actor.name ?? null,
    metadata: {
      ...(record.actor.name ? { key_name: record.actor.name } : {}),
      what: storableWhat(record.what),
      ...(options.aggregate ? { aggregated: options.aggregate } : {}),
    },
  }
}

/**
 * What a caller asked for, made storable: NUL characters (which PostgreSQL text and jsonb refuse)
 * become U+FFFD and long values are cut, so recording a malformed request never fails where the
 * request itself would have been answered 400.
 */
export function storableWhat(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD').slice(0, 1_024)
  if (depth > 4 || value === null || typeof value !== 'object') return typeof value === 'object' && value !== null ? '[nested]' : value
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => storableWhat(item, depth + 1))
  return Object.fromEntries(Object.entries(value).slice(0, 50).map(([key, item]) => [String(storableWhat(key, depth + 1)), storableWhat(item, depth + 1)]))
}

/** Two reads are "identical" when who, from where, which tenant and what they asked all match. */
export function readIdentity(record: AccessRecord): string {
  return JSON.stringify([record.kind, record.actor.kind, record.actor.id, record.tenant, record.from?.ip ?? null, sortedJson(record.what)])
}

function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortedJson((value as Record<string, unknown>)[key])]))
  }
  return value
}
