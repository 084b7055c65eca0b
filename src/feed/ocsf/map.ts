/**
 * One stored event as an OCSF 1.x event (pure: no I/O, so every sink can call it per event).
 *
 * | auditq | OCSF |
 * | --- | --- |
 * | action | class by the class table; `activity_id` from its words; `api.operation` (API Activity) |
 * | actor_id, actor_type | `actor.user.uid`, `actor.user.type` / `type_id` |
 * | session_id | `actor.session.uid` (and `session.uid` for Authentication) |
 * | ip_address | `src_endpoint.ip` |
 * | resource_type, resource_id | `resources[0].type` / `.uid` (API Activity); the target `user` (Account Change) |
 * | success, error_message | `status_id` 1/2, `status`, `status_detail` |
 * | category | `severity_id` info 1, warning 3, critical 5 |
 * | occurred_at, received_at | `time`, `metadata.logged_time` (epoch ms) |
 * | description | `message` (else the action) |
 * | id, seq, request_id | `metadata.uid`, `metadata.sequence`, `metadata.correlation_uid`; `api.request.uid` |
 * | tenant_id, hash, everything else | `unmapped.auditq` |
 *
 * Where OCSF requires an attribute auditq may lack (an API Activity's actor or source endpoint),
 * the mapper writes `unknown` rather than drop the event or emit an invalid one.
 */
import type { AuditEvent } from '../../event/types.js'
import type { FeedEvent } from '../feed-event.js'
import { activityOf } from './activity.js'
import { classOf, DEFAULT_CLASS_TABLE, OCSF_CLASSES, type ClassRule } from './class-table.js'

/** The OCSF version the output declares and the test fixtures check it against. */
export const OCSF_VERSION = '1.1.0'

export interface OcsfOptions {
  classTable?: readonly ClassRule[]
  /** auditq's version, for `metadata.product.version`. */
  productVersion?: string
}

export type OcsfEvent = Record<string, unknown>

const SEVERITY = { info: { id: 1, name: 'Informational' }, warning: { id: 3, name: 'Medium' }, critical: { id: 5, name: 'Critical' } } as const

const USER_TYPES: Record<string, number> = { user: 1, admin: 2, system: 3, service: 4 }

export function toOcsf(item: Pick<FeedEvent, 'event' | 'seq' | 'hash'>, options: OcsfOptions = {}): OcsfEvent {
  const { event } = item
  const ocsfClass = classOf(event.action, options.classTable ?? DEFAULT_CLASS_TABLE)
  const cls = OCSF_CLASSES[ocsfClass]
  const activity = activityOf(ocsfClass, event.action)
  const severity = SEVERITY[event.category]
  const actor = actorOf(event)
  const out: OcsfEvent = {
    activity_id: activity.id,
    activity_name: activity.name,
    category_uid: cls.categoryUid,
    category_name: cls.categoryName,
    class_uid: cls.uid,
    class_name: cls.name,
    type_uid: cls.uid * 100 + activity.id,
    type_name: `${cls.name}: ${activity.name}`,
    severity_id: severity.id,
    severity: severity.name,
    time: Date.parse(event.occurred_at),
    status_id: event.success ? 1 : 2,
    status: event.success ? 'Success' : 'Failure',
    ...(event.error_message !== null ? { status_detail: event.error_message } : {}),
    message: event.description ?? event.action,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'auditq', vendor_name: 'auditq', ...(options.productVersion ? { version: options.productVersion } : {}) },
      uid: event.id,
      logged_time: Date.parse(event.received_at),
      sequence: item.seq,
      log_name: event.tenant_id,
      ...(event.request_id !== null ? { correlation_uid: event.request_id } : {}),
    },
    actor,
    src_endpoint: event.ip_address !== null ? { ip: event.ip_address } : { name: 'unknown' },
    unmapped: { auditq: unmappedOf(item) },
  }
  if (ocsfClass === 'api_activity') {
    out.api = { operation: event.action, request: { uid: event.request_id ?? event.id } }
    if (event.resource_type !== null || event.resource_id !== null) {
      out.resources = [{ ...(event.resource_id !== null ? { uid: event.resource_id } : {}), ...(event.resource_type !== null ? { type: event.resource_type } : {}) }]
    }
  } else if (ocsfClass === 'authentication') {
    // The subject authenticating is the actor; the service is the tenant's application.
    out.user = actor.user
    out.service = { name: event.tenant_id }
    if (/mfa/i.test(event.action)) out.is_mfa = true
    if (event.session_id !== null) out.session = { uid: event.session_id }
  } else {
    // The account changed is the resource when the event names one, else the actor's own.
    out.user =
      event.resource_id !== null
        ? { uid: event.resource_id, ...(event.resource_type !== null ? { type: event.resource_type } : {}) }
        : actor.user
  }
  return out
}

function actorOf(event: AuditEvent): { user: Record<string, unknown>; session?: { uid: string } } {
  const type = event.actor_type
  const user: Record<string, unknown> = event.actor_id !== null ? { uid: event.actor_id } : { name: 'unknown' }
  if (type !== null) {
    user.type = type
    user.type_id = USER_TYPES[type.toLowerCase()] ?? 99
  } else {
    user.type_id = 0
  }
  return { user, ...(event.session_id !== null ? { session: { uid: event.session_id } } : {}) }
}

/** What OCSF has no attribute for, and what proves the event: its chain place and hash. */
function unmappedOf(item: Pick<FeedEvent, 'event' | 'seq' | 'hash'>): Record<string, unknown> {
  const { event } = item
  const extra: Record<string, unknown> = { id: event.id, tenant_id: event.tenant_id, seq: item.seq, hash: item.hash, action: event.action, category: event.category }
  for (const field of ['client_id', 'user_agent', 'session_id', 'request_id'] as const) {
    if (event[field] !== null) extra[field] = event[field]
  }
  if (Object.keys(event.metadata).length > 0) extra.metadata = event.metadata
  return extra
}
