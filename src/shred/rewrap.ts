/**
 * Master-key rotation: every stored key (subject keys and the index root) is unwrapped with the old
 * master key and wrapped again with the new one. Only the key table changes: no event, no index, no
 * hash. Safe to re-run after an interruption: keys already under the new master key are skipped.
 */
import { AuditqError } from '../errors.js'
import { keyEncryptionKey, masterKeyId, unwrapKey, wrapKey } from './crypto.js'
import type { SubjectKeyStore } from './subject-keys.js'

export interface RewrapReport {
  from_master_key_id: string
  to_master_key_id: string
  rewrapped: number
  already: number
}

export async function rewrapKeys(keys: SubjectKeyStore, from: Buffer, to: Buffer): Promise<RewrapReport> {
  const fromId = masterKeyId(from)
  const toId = masterKeyId(to)
  const [oldKek, newKek] = [keyEncryptionKey(from), keyEncryptionKey(to)]
  let rewrapped = 0
  let already = 0
  for (const row of await keys.all()) {
    if (row.master_key_id === toId) {
      already += 1
      continue
    }
    if (row.master_key_id !== fromId) {
      throw new AuditqError('AUDITQ_MASTER_KEY', `subject key ${row.key_id} is wrapped under master key ${row.master_key_id}, neither the old (${fromId}) nor the new (${toId}) one`)
    }
    const binding = { key_id: row.key_id, tenant_id: row.tenant_id, subject_index: row.subject_index }
    const dataKey = unwrapKey(oldKek, row.wrapped_key, binding)
    await keys.rewrap(row.key_id, wrapKey(newKek, dataKey, binding), toId)
    rewrapped += 1
  }
  return { from_master_key_id: fromId, to_master_key_id: toId, rewrapped, already }
}
