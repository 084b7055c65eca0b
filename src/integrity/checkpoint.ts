/**
 * Ed25519 checkpoints: a signature over a tenant's chain head (and the retention cut in force),
 * made with a key the database never sees. Whoever can write the tables but lacks the key can
 * rebuild a self-consistent chain, but cannot produce signatures that match it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { AuditqError } from '../errors.js'
import type { Checkpoint, CheckpointPayload, RetentionCut } from './types.js'

export const CHECKPOINT_VERSION = 'auditq.checkpoint.v1'
/** A checkpoint that also signs the Merkle tree: v1's array with the tree size and root appended. */
export const CHECKPOINT_VERSION_TREE = 'auditq.checkpoint.v2'

/**
 * The exact bytes signed: a JSON array in fixed order (see docs/integrity.md). A checkpoint with
 * a tree signs v2, one without keeps v1, so checkpoints signed before the tree existed still verify.
 */
export function checkpointMessage(payload: CheckpointPayload): Buffer {
  const { cut, tree } = payload
  const fields: unknown[] = [
    tree ? CHECKPOINT_VERSION_TREE : CHECKPOINT_VERSION,
    payload.tenant_id,
    payload.seq,
    payload.hash,
    payload.created_at,
    cut ? cutFields(cut) : null,
  ]
  if (tree) fields.push(tree.size, tree.root)
  return Buffer.from(JSON.stringify(fields))
}

/**
 * A cut's signed fields. Holds are appended only when the cut has some: a cut without holds signs
 * the same bytes as before holds existed, so every older checkpoint still verifies.
 */
function cutFields(cut: RetentionCut): unknown[] {
  const fields: unknown[] = [cut.tenant_id, cut.seq, cut.hash, cut.cutoff, cut.keep_actions, cut.kept_count, cut.kept_digest]
  if (cut.holds && cut.holds.length > 0) fields.push(cut.holds.map((hold) => [hold.actor_id, hold.resource_type, hold.resource_id]))
  return fields
}

export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  keyId: string
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

export function generateSigningKeyPem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

export function parseSigningKey(pem: string): SigningKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (error) {
    throw new AuditqError('AUDITQ_CONFIG', `integrity signing key: not a PEM private key (${(error as Error).message})`)
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditqError('AUDITQ_CONFIG', `integrity signing key: must be Ed25519, got ${privateKey.asymmetricKeyType}`)
  }
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) }
}

/** A public key (SPKI PEM) or a private key PEM, from which the public half is derived. */
export function parseVerifyingKey(pem: string): KeyObject {
  try {
    const key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem)
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`must be Ed25519, got ${key.asymmetricKeyType}`)
    return key
  } catch (error) {
    throw new AuditqError('AUDITQ_CONFIG', `integrity verifying key: ${(error as Error).message}`)
  }
}

export function signCheckpoint(payload: CheckpointPayload, key: SigningKey): Checkpoint {
  const signature = sign(null, checkpointMessage(payload), key.privateKey).toString('base64')
  return { ...payload, key_id: key.keyId, signature }
}

export function checkpointIsAuthentic(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'))
  } catch {
    // A malformed signature is simply not authentic; the caller reports which checkpoint it was.
    return false
  }
}
