/**
 * The canonical serialization an event is hashed over, and the chain hash. Pure and documented
 * byte for byte in docs/integrity.md, so an auditor can re-implement it without reading this code.
 *
 * Why an array and not an object: the order is fixed by position, every field is present (null
 * when absent), and no key-ordering rule is needed except inside `metadata`, which is the only
 * free-form part. Metadata keys are sorted recursively (UTF-16 code-unit order, JavaScript's
 * default sort) because the PostgreSQL store keeps jsonb, which does not preserve key order.
 */
import { createHash } from 'node:crypto'
import type { AuditEvent } from '../event/types.js'

/** Tag of the serialization format; changing anything below means a new tag. */
export const CANONICAL_VERSION = 'auditq.v1'

/** The predecessor of every tenant's first event (seq 1). */
export const GENESIS_HASH = '0'.repeat(64)

/** Timestamps hashed as ISO-8601 UTC with exactly three fraction digits, whatever form was stored. */
function normalizeTimestamp(value: string): string {
  return new Date(value).toISOString()
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key])
    return sorted
  }
  return value
}

export function canonicalEvent(event: AuditEvent): string {
  return JSON.stringify([
    CANONICAL_VERSION,
    event.id.toLowerCase(),
    event.tenant_id,
    normalizeTimestamp(event.occurred_at),
    normalizeTimestamp(event.received_at),
    event.action,
    event.category,
    event.actor_id,
    event.actor_type,
    event.resource_type,
    event.resource_id,
    event.success,
    event.error_message,
    event.description,
    event.ip_address,
    event.user_agent,
    event.session_id,
    event.request_id,
    event.client_id,
    sortKeys(event.metadata),
  ])
}

/**
 * SHA-256 (lower-case hex) of `prevHash + "\n" + canonicalEvent(event)`. The sequence number is
 * deliberately not hashed: order is carried by the links (each hash covers its predecessor's), so
 * renumbering alone changes nothing, and any reordering breaks a link that verify can name.
 */
export function chainHash(prevHash: string, event: AuditEvent): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalEvent(event)).digest('hex')
}
