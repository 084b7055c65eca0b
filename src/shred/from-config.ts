import type { Config } from '../config.js'
import { loadMasterKey } from './master-key.js'
import { checkFieldPaths, type ShreddingOptions } from './options.js'

/**
 * The configured shredding, or undefined when it is off (no subject field). On, it needs a usable
 * master key: a missing or malformed one throws AUDITQ_MASTER_KEY naming the setting, so nothing
 * is ever stored in plaintext because a key was forgotten.
 */
export function shreddingFromConfig(config: Pick<Config, 'shredding'>): ShreddingOptions | undefined {
  const { subjectField, fields, masterKey, masterKeyFile, keyCacheTtlMs } = config.shredding
  if (subjectField === undefined) return undefined
  checkFieldPaths(fields, 'AUDITQ_SHRED_FIELDS')
  return { subjectField, fields, masterKey: loadMasterKey({ masterKey, masterKeyFile }), keyCacheTtlMs }
}
