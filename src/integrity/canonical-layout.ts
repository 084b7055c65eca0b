/**
 * The auditq.v2 canonical form's layout, apart from the hashing (no node:crypto), so SQL modules
 * can name positions as canonical-version.ts lets them name the version.
 */
import type { EVENT_FIELDS } from '../event/types.js'

/**
 * Where each event field sits in the auditq.v2 array (0 is the tag). Must match canonicalV2 in
 * canonical.ts; prepared-event.test.ts checks it field by field.
 */
export const CANONICAL_V2_POSITIONS: Readonly<Record<(typeof EVENT_FIELDS)[number], number>> = {
  id: 1,
  tenant_id: 2,
  occurred_at: 3,
  received_at: 4,
  action: 5,
  category: 6,
  actor_id: 7,
  actor_type: 8,
  actor_name: 9,
  resource_type: 10,
  resource_id: 11,
  targets: 12,
  changes: 13,
  success: 14,
  error_message: 15,
  description: 16,
  ip_address: 17,
  user_agent: 18,
  session_id: 19,
  request_id: 20,
  client_id: 21,
  producer_id: 22,
  producer_seq: 23,
  subject_index: 24,
  sealed: 25,
  metadata: 26,
}

export const CANONICAL_V2_LENGTH = 27
