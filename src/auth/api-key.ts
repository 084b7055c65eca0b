import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { SCOPES, type Scope } from './principal.js'
import { AuditqError } from '../errors.js'

/**
 * An API key is `aq_<key id>_<secret>`: the id (16 hex characters) names the stored record, so a
 * key is found with one primary-key lookup; the secret (32 random bytes, base64url) proves it.
 *
 * Only SHA-256 of the secret is stored. A slow hash (scrypt, bcrypt) protects *low-entropy*
 * secrets — passwords — from offline guessing after a database leak; a 256-bit random secret
 * cannot be guessed however fast the hash, so a slow one would only add milliseconds of CPU to
 * every uncached request (and hand an attacker a cheap way to burn that CPU).
 */
export const KEY_PREFIX = 'aq'
const KEY_ID_BYTES = 8
const SECRET_BYTES = 32
/** `aq_` + 16 hex + `_` + 43 base64url characters. */
const KEY_PATTERN = /^aq_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
/** Longer than any key: a header value past this is refused without looking further. */
export const MAX_KEY_LENGTH = 128

export interface GeneratedKey {
  /** The whole key, shown once to whoever created it and never stored. */
  key: string
  keyId: string
  secretHash: Buffer
}

export function generateKey(): GeneratedKey {
  const keyId = randomBytes(KEY_ID_BYTES).toString('hex')
  const secret = randomBytes(SECRET_BYTES).toString('base64url')
  return { key: `${KEY_PREFIX}_${keyId}_${secret}`, keyId, secretHash: hashSecret(secret) }
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest()
}

/** The key id and secret of a well-formed key, or undefined. Never echoes the input anywhere. */
export function parseKey(text: string): { keyId: string; secret: string } | undefined {
  if (text.length > MAX_KEY_LENGTH) return undefined
  const match = KEY_PATTERN.exec(text)
  return match ? { keyId: match[1]!, secret: match[2]! } : undefined
}

/**
 * Constant-time comparison of the presented secret's hash with the stored one. Both are 32-byte
 * SHA-256 digests, so the lengths always match and timingSafeEqual never throws; a record that is
 * missing is compared against a fixed digest, so "no such key" and "wrong secret" cost the same.
 */
export function secretMatches(secret: string, storedHash: Buffer | undefined): boolean {
  const presented = hashSecret(secret)
  const expected = storedHash && storedHash.length === presented.length ? storedHash : UNMATCHABLE
  return timingSafeEqual(presented, expected) && expected !== UNMATCHABLE
}

const UNMATCHABLE = Buffer.alloc(32)

/** `ingest,read` → ['ingest', 'read']; an unknown or empty scope list is a usage error. */
export function parseScopes(text: string): Scope[] {
  const scopes = [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))]
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s))
  if (scopes.length === 0 || unknown.length > 0) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', `--scopes must be a comma-separated list of ${SCOPES.join(', ')}; got ${JSON.stringify(text.slice(0, 100))}`)
  }
  return scopes as Scope[]
}
