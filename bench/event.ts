import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent, type AuditEventInput } from '../src/event/types.js'

/**
 * The benchmark event: 8 fields and a small metadata object, the typical `log()` call. Validated,
 * it serializes to ~520–550 bytes of JSON (ids, timestamps and the null fields included).
 * `tag` keeps request ids unique across the scenarios of one run, so a duplicate is detectable
 * even when it carries a fresh id.
 */
export function sampleEvent(i: number, tag = ''): AuditEventInput {
  return {
    action: 'api_key.created',
    actor_id: `user-${i % 1000}`,
    actor_type: 'user',
    resource_type: 'api_key',
    resource_id: `key-${i}`,
    ip_address: '192.0.2.10',
    user_agent: 'Mozilla/5.0 (bench)',
    request_id: `req-${tag}${i}`,
    metadata: { key_name: 'ci', permissions: ['read', 'write'] },
  }
}

export interface SkewedEventOptions {
  /** occurred_at and received_at, ISO 8601. */
  at: string
  /** Numbers the request id and `metadata.n`. */
  n: number
  /** The failure's message; null: the event is a success. */
  error: string | null
}

/**
 * A stored event skewed like real traffic: 200 tenants, Zipf-like (a few large, many small); a
 * 'system' actor 5 % of the time, otherwise one of up to 2,000 users of the tenant, skewed; 200
 * actions, skewed; 50,000 resources in 8 types; 2 % critical, 8 % warning. Time, failures and
 * numbering are the caller's, since each bench places its events after the rows it filled.
 */
export function skewedEvent({ at, n, error }: SkewedEventOptions): AuditEvent {
  const tenant = `tenant_${Math.floor(200 * Math.random() ** 4)}`
  const c = Math.random()
  return {
    id: uuidv7(),
    tenant_id: tenant,
    occurred_at: at,
    received_at: at,
    action: `action.${Math.floor(200 * Math.random() ** 3)}`,
    category: c < 0.02 ? 'critical' : c < 0.1 ? 'warning' : 'info',
    actor_id: Math.random() < 0.05 ? 'system' : `${tenant}-user-${Math.floor(2000 * Math.random() ** 2)}`,
    actor_type: 'user',
    resource_type: `type${Math.floor(8 * Math.random())}`,
    resource_id: `res-${Math.floor(50_000 * Math.random())}`,
    success: error === null,
    error_message: error,
    description: null,
    ip_address: `10.${Math.floor(Math.random() * 255)}.${Math.floor(Math.random() * 255)}.1`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36',
    session_id: `sess-${Math.floor(Math.random() * 100_000)}`,
    request_id: `req-${n}`,
    client_id: null,
    metadata: { key_name: 'ci', permissions: ['read', 'write'], n },
    ...noAddedFields(),
  }
}
