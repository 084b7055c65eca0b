import type { AuditEventInput } from '../src/event/types.js'

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
