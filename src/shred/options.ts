/**
 * What crypto-shredding is configured to do: which field names the subject, which fields are
 * personal, and the master key. Pure; the master key's bytes come from master-key.ts.
 */
import { AuditqError } from '../errors.js'

/** Fields that may name the subject: a stable identifier of a person, one per event. */
export const SUBJECT_FIELDS = ['actor_id', 'resource_id', 'session_id', 'client_id'] as const
export type SubjectField = (typeof SUBJECT_FIELDS)[number]

/** Top-level text fields that may be sealed; any `metadata.<key>[.<key>…]` path may be too. */
export const SEALABLE_FIELDS = ['actor_id', 'resource_id', 'session_id', 'client_id', 'request_id', 'ip_address', 'user_agent', 'description', 'error_message'] as const

const METADATA_PATH = /^metadata(\.[^.\s]{1,64}){1,8}$/
const UNSAFE_SEGMENT = /(^|\.)(__proto__|constructor|prototype)(\.|$)/

export function isSealablePath(path: string): boolean {
  return (SEALABLE_FIELDS as readonly string[]).includes(path) || (METADATA_PATH.test(path) && !UNSAFE_SEGMENT.test(path))
}

export interface ShreddingOptions {
  subjectField: SubjectField
  /** Field paths sealed besides the subject field (which is always sealed). */
  fields: readonly string[]
  /** 32 bytes. */
  masterKey: Buffer
  /**
   * How long a data key (or its absence) is trusted without asking the store. An erasure made by
   * another process takes effect in this one within this long.
   */
  keyCacheTtlMs: number
}

/** The sealed paths: the subject field first, then the configured ones, without repeats. */
export function sealedPaths(options: Pick<ShreddingOptions, 'subjectField' | 'fields'>): string[] {
  return [...new Set([options.subjectField, ...options.fields])]
}

export function checkFieldPaths(fields: readonly string[], setting: string): void {
  const bad = fields.filter((field) => !isSealablePath(field))
  if (bad.length > 0) {
    throw new AuditqError(
      'AUDITQ_CONFIG',
      `invalid configuration: ${setting}: ${bad.map((f) => JSON.stringify(f)).join(', ')} cannot be sealed; use ${SEALABLE_FIELDS.join(', ')} or metadata.<key>`,
    )
  }
}
