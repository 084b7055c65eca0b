/**
 * Reads the master key from the setting that holds it (the value, or a file). This is the only
 * place its text is parsed; every problem names the setting, and nothing falls back to storing
 * plaintext: a deployment that configures a subject field and no usable key does not start.
 */
import { readFileSync } from 'node:fs'
import { AuditqError } from '../errors.js'
import { KEY_BYTES } from './crypto.js'

export const MASTER_KEY_SETTING = 'AUDITQ_SHRED_MASTER_KEY'
export const MASTER_KEY_FILE_SETTING = 'AUDITQ_SHRED_MASTER_KEY_FILE'

/** 64 hex digits, or base64 / base64url of 32 bytes. */
export function parseMasterKey(text: string, setting: string): Buffer {
  const trimmed = text.trim()
  let bytes: Buffer | undefined
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'hex')
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (bytes?.length !== KEY_BYTES) {
    throw new AuditqError('AUDITQ_MASTER_KEY', `${setting}: must be 32 bytes as 64 hex digits or base64 (generate one with \`openssl rand -hex 32\`)`)
  }
  return bytes
}

export function loadMasterKey(source: { masterKey?: string | undefined; masterKeyFile?: string | undefined }): Buffer {
  if (source.masterKey !== undefined && source.masterKeyFile !== undefined) {
    throw new AuditqError('AUDITQ_MASTER_KEY', `set ${MASTER_KEY_SETTING} or ${MASTER_KEY_FILE_SETTING}, not both`)
  }
  if (source.masterKey !== undefined) return parseMasterKey(source.masterKey, MASTER_KEY_SETTING)
  if (source.masterKeyFile !== undefined) {
    let text: string
    try {
      text = readFileSync(source.masterKeyFile, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
      throw new AuditqError('AUDITQ_MASTER_KEY', `${MASTER_KEY_FILE_SETTING}: cannot read ${source.masterKeyFile} (${code})`, { cause: error })
    }
    return parseMasterKey(text, MASTER_KEY_FILE_SETTING)
  }
  throw new AuditqError('AUDITQ_MASTER_KEY', `crypto-shredding is configured (AUDITQ_SHRED_SUBJECT_FIELD) but no master key is set: set ${MASTER_KEY_SETTING} or ${MASTER_KEY_FILE_SETTING}`)
}
