/**
 * The cryptography of crypto-shredding, and nothing else: no I/O, no configuration. Everything is
 * AES-256-GCM, HKDF-SHA-256 and HMAC-SHA-256 from `node:crypto`.
 *
 * Key hierarchy (docs/erasure.md):
 * - the master key (32 bytes, from the environment or a file) never touches the database; the
 *   key-encryption key that wraps data keys is derived from it with HKDF, and its fingerprint
 *   (`masterKeyId`) is stored beside each wrapped key so a wrong master key is named, not guessed;
 * - one data key per subject (per tenant), random, stored only wrapped;
 * - the blind-index key is derived with HKDF from an index root, a random key stored wrapped like
 *   a data key: rotating the master key then rewraps keys without changing any stored index.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, randomFillSync } from 'node:crypto'

export const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
/** Prefix of every sealed value: the version of this format. */
export const SEALED_PREFIX = 'aqe1'

/** The text of a personal value whose subject key was erased. */
export const ERASED = '[erased]'

function hkdf(key: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.from('auditq.shred.v1'), Buffer.from(info), KEY_BYTES))
}

/** The key that wraps data keys (never the master key itself, so one key has one use). */
export function keyEncryptionKey(master: Buffer): Buffer {
  return hkdf(master, 'subject-key-wrap')
}

/** A short public fingerprint of a master key: stored with each wrapped key, printed in errors. */
export function masterKeyId(master: Buffer): string {
  return createHash('sha256').update(hkdf(master, 'master-key-id')).digest('hex').slice(0, 16)
}

/** The blind-index key, from the index root. */
export function indexKey(indexRoot: Buffer): Buffer {
  return hkdf(indexRoot, 'blind-index')
}

/**
 * The keyed blind index of a subject value: equal values give equal indexes, so an equality filter
 * works, while the index reveals nothing without the key (HMAC-SHA-256, hex).
 */
export function blindIndex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex')
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES)
}

/** A key id: 12 random bytes in base64url (16 characters, never a `:`). */
export function newKeyId(): string {
  return randomBytes(12).toString('base64url')
}

/**
 * Random IVs drawn from a pool refilled 4 KiB at a time: one call into the CSPRNG per ~340 IVs
 * instead of one per value (measured: the per-call overhead was a third of sealing one value).
 */
const ivPool = Buffer.alloc(IV_BYTES * 341)
let ivOffset = ivPool.length

function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool)
    ivOffset = 0
  }
  // A copy: the pool is overwritten on refill.
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES))
  ivOffset += IV_BYTES
  return iv
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv()
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()])
}

/** Throws when the key is wrong or anything (iv, ciphertext, tag, aad) was altered. */
function decrypt(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short')
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES))
  decipher.setAAD(Buffer.from(aad, 'utf8'))
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()])
}

/** Where a wrapped key belongs: bound into the wrap, so a key row copied onto another subject fails to open. */
export interface KeyBinding {
  key_id: string
  tenant_id: string
  subject_index: string
}

const wrapAad = (binding: KeyBinding) => `auditq.subject-key\u0000${binding.key_id}\u0000${binding.tenant_id}\u0000${binding.subject_index}`

export function wrapKey(kek: Buffer, dataKey: Buffer, binding: KeyBinding): Buffer {
  return encrypt(kek, dataKey, wrapAad(binding))
}

export function unwrapKey(kek: Buffer, wrapped: Buffer, binding: KeyBinding): Buffer {
  return decrypt(kek, wrapped, wrapAad(binding))
}

/** Where a sealed value belongs: bound into it, so it cannot be moved to another event or field. */
export interface ValueBinding {
  event_id: string
  path: string
}

const valueAad = (keyId: string, binding: ValueBinding) => `${SEALED_PREFIX}\u0000${keyId}\u0000${binding.event_id}\u0000${binding.path}`

/** `aqe1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>` of the value's JSON text. */
export function sealValue(dataKey: Buffer, keyId: string, value: unknown, binding: ValueBinding): string {
  const body = encrypt(dataKey, Buffer.from(JSON.stringify(value), 'utf8'), valueAad(keyId, binding))
  return `${SEALED_PREFIX}:${keyId}:${body.toString('base64url')}`
}

/** The key id a sealed value names, or undefined when the text is not a sealed value. */
export function sealedKeyId(sealed: string): string | undefined {
  const match = /^aqe1:([A-Za-z0-9_-]+):[A-Za-z0-9_-]+$/.exec(sealed)
  return match?.[1]
}

/** Throws when the key is not the one the value was sealed with, or the value was altered or moved. */
export function openValue(dataKey: Buffer, sealed: string, binding: ValueBinding): unknown {
  const keyId = sealedKeyId(sealed)
  if (keyId === undefined) throw new Error('not a sealed value')
  const body = Buffer.from(sealed.slice(SEALED_PREFIX.length + keyId.length + 2), 'base64url')
  return JSON.parse(decrypt(dataKey, body, valueAad(keyId, binding)).toString('utf8'))
}

/** SHA-256 hex of a wrapped key: recorded by an erasure, it names the destroyed key without revealing it. */
export function wrappedKeyDigest(wrapped: Buffer): string {
  return createHash('sha256').update(wrapped).digest('hex')
}
