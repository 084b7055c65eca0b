/**
 * What crypto-shredding needs of a store: a table of wrapped per-subject data keys. Owned here (the
 * domain that uses it); both real stores implement it (migration 45 creates the table).
 */

/** One wrapped data key as stored. The plaintext key is never stored anywhere. */
export interface StoredSubjectKey {
  key_id: string
  tenant_id: string
  /** The subject's blind index (src/shred/crypto.ts); the subject value itself is never stored. */
  subject_index: string
  /** AES-256-GCM of the data key under the key-encryption key, bound to the three fields above. */
  wrapped_key: Buffer
  /** Fingerprint of the master key it is wrapped under (`masterKeyId`). */
  master_key_id: string
  created_at: string
}

export interface SubjectKeyStore {
  /**
   * Stores `key` unless a key for its (tenant_id, subject_index) exists, and returns whichever is
   * stored: two processes sealing the same new subject at once end up with one key (race-safe).
   */
  insertOrGet(key: StoredSubjectKey): Promise<StoredSubjectKey>
  byIds(keyIds: readonly string[]): Promise<StoredSubjectKey[]>
  find(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null>
  /** Deletes the key for good and returns what was deleted (null: there was none). */
  delete(tenant_id: string, subject_index: string): Promise<StoredSubjectKey | null>
  /** Every stored key, for rewrapping under a new master key. */
  all(): Promise<StoredSubjectKey[]>
  /** Replaces one key's wrapping (same data key, new master key). */
  rewrap(key_id: string, wrapped_key: Buffer, master_key_id: string): Promise<void>
}
