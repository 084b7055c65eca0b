import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent } from '../../src/event/types.js'

/** A fully-populated stored event for store-level tests (bypasses the validator on purpose). */
export function storedEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  const now = new Date().toISOString()
  return {
    id: uuidv7(),
    tenant_id: 'default',
    action: 'api_key.created',
    category: 'info',
    occurred_at: now,
    received_at: now,
    actor_id: 'u1',
    actor_type: 'user',
    resource_type: 'api_key',
    resource_id: 'k9',
    success: true,
    error_message: null,
    description: null,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata: {},
    ...noAddedFields(),
    ...overrides,
  }
}

/** ISO timestamp `seconds` before a fixed base, so ordering tests do not depend on the clock. */
export function isoAt(seconds: number, base = Date.parse('2026-06-01T12:00:00.000Z')): string {
  return new Date(base + seconds * 1000).toISOString()
}
