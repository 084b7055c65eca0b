/**
 * `auditq erase`: destroys one subject's data key and chains an `auditq.erasure` event that proves
 * what was destroyed without naming the subject. Every value sealed under the key reads as
 * `[erased]` from then on; nothing stored changes, so the chain and every proof still verify.
 *
 * Order: the event is stored first, then the key deleted. The event's id derives from the key id,
 * so re-running after a failure between the two stores the same event once (idempotent on id)
 * and finishes the deletion; the reverse order could destroy a key and never record it.
 */
import { createHash } from 'node:crypto'
import { v7 as uuidv7 } from 'uuid'
import { AuditqError } from '../errors.js'
import { uuidV8FromDigest } from '../event/derived-id.js'
import { ERASURE_ACTION } from '../event/reserved.js'
import { noAddedFields, type AuditEvent } from '../event/types.js'
import { wrappedKeyDigest } from './crypto.js'
import type { Shredder } from './shredder.js'
import type { SubjectKeyStore } from './subject-keys.js'

export { ERASURE_ACTION }

/** Longest `--reason`: a ticket reference and a sentence, not a document. */
export const MAX_REASON_LENGTH = 1_000

export interface EraseRequest {
  tenant_id: string
  subject: string
  reason: string
}

export interface EraseReport {
  tenant_id: string
  subject_index: string
  /** The destroyed key; null when the subject had none (never sealed anything, or already erased). */
  key_id: string | null
  /** The chained `auditq.erasure` event. */
  event_id: string
}

export async function eraseSubject(
  shredder: Shredder,
  keys: SubjectKeyStore,
  insert: (events: readonly AuditEvent[]) => Promise<unknown>,
  request: EraseRequest,
  now: Date = new Date(),
): Promise<EraseReport> {
  const reason = request.reason.trim()
  if (reason === '') throw new AuditqError('AUDITQ_BAD_REQUEST', 'erase: --reason is required (why the subject is erased: a request reference, not personal data)')
  if (reason.length > MAX_REASON_LENGTH) throw new AuditqError('AUDITQ_BAD_REQUEST', `erase: --reason is longer than ${MAX_REASON_LENGTH} characters`)
  if (request.subject === '') throw new AuditqError('AUDITQ_BAD_REQUEST', 'erase: --subject is required')
  const subject_index = await shredder.subjectIndex(request.subject)
  const key = await keys.find(request.tenant_id, subject_index)
  if (key) shredder.keyring.unwrap(key) // a wrong master key fails here, before anything is recorded
  const at = now.toISOString()
  const event: AuditEvent = {
    ...noAddedFields(),
    id: key ? uuidV8FromDigest(createHash('sha256').update(`${ERASURE_ACTION}\u0000${key.tenant_id}\u0000${key.key_id}`).digest()) : uuidv7(),
    tenant_id: request.tenant_id,
    action: ERASURE_ACTION,
    category: 'warning',
    occurred_at: at,
    received_at: at,
    actor_id: 'auditq',
    actor_type: 'system',
    resource_type: 'subject_key',
    resource_id: key?.key_id ?? null,
    success: true,
    error_message: null,
    description: key ? `erased the personal values of one subject: key ${key.key_id} destroyed` : 'erasure requested; the subject had no key (nothing sealed, or erased before)',
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata: {
      reason,
      subject_field: shredder.subjectField,
      sealed_fields: [...shredder.paths],
      key_id: key?.key_id ?? null,
      key_created_at: key?.created_at ?? null,
      wrapped_key_sha256: key ? wrappedKeyDigest(key.wrapped_key) : null,
      master_key_id: key?.master_key_id ?? null,
    },
    sealed: null,
    // The same index the subject's events carry: a filter on the subject finds its erasure too.
    subject_index,
  }
  await insert([event])
  if (key) {
    await keys.delete(key.tenant_id, subject_index)
    shredder.keyring.forget(key.tenant_id, subject_index, key.key_id)
  }
  return { tenant_id: request.tenant_id, subject_index, key_id: key?.key_id ?? null, event_id: event.id }
}
