/**
 * The archive's manifest: one line per segment, each line carrying the SHA-256 of the line before
 * it, and a last line that signs the head of that chain with the checkpoint key (Ed25519). Pure:
 * the sink writes it, the offline verifier reads it; neither needs a database.
 *
 *   {"v":"auditq.archive.v1","n":1,"file":"…","tenant_id":"acme","first_seq":1,"last_seq":500,
 *    "events":500,"bytes":81234,"sha256":"…","first_hash":"…","last_hash":"…","sealed":false,"prev":"000…"}
 *   …
 *   {"signature":{"key_id":"…","entries":N,"head":"<sha256 of the last entry line>","sig":"<base64>"}}
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto'
import type { SigningKey } from '../../../integrity/checkpoint.js'

export const ARCHIVE_VERSION = 'auditq.archive.v1'
export const MANIFEST_FILE = 'manifest.ndjson'
export const NO_PREVIOUS = '0'.repeat(64)

export interface SegmentEntry {
  v: typeof ARCHIVE_VERSION
  /** Position in the manifest, from 1: the order segments were started in. */
  n: number
  file: string
  tenant_id: string
  first_seq: number
  last_seq: number
  events: number
  bytes: number
  sha256: string
  /** Chain hashes of the segment's first and last events: the links to the segments around it. */
  first_hash: string
  last_hash: string
  /** When the segment was started (it rotates when the hour changes). */
  opened_at: string
  /** A sealed segment is never written again; the open one of a tenant grows until it rotates. */
  sealed: boolean
  /** SHA-256 of the previous entry's line (NO_PREVIOUS for the first). */
  prev: string
}

export interface ManifestSignature {
  key_id: string
  entries: number
  head: string
  sig: string
}

export const lineHash = (line: string) => createHash('sha256').update(line).digest('hex')

/** The signed bytes: version, entry count and the head of the entry chain. */
const signedMessage = (entries: number, head: string) => Buffer.from(JSON.stringify([ARCHIVE_VERSION, entries, head]))

/** Serializes entries (re-chaining `prev` in order) and signs the head. */
export function renderManifest(entries: readonly Omit<SegmentEntry, 'prev' | 'v' | 'n'>[], key: SigningKey): string {
  let prev = NO_PREVIOUS
  const lines: string[] = []
  entries.forEach((entry, index) => {
    const line = JSON.stringify({ v: ARCHIVE_VERSION, n: index + 1, ...entry, prev } satisfies SegmentEntry)
    lines.push(line)
    prev = lineHash(line)
  })
  const signature: ManifestSignature = { key_id: key.keyId, entries: lines.length, head: prev, sig: sign(null, signedMessage(lines.length, prev), key.privateKey).toString('base64') }
  return [...lines, JSON.stringify({ signature })].join('\n') + '\n'
}

export type ManifestProblem = { entry: number | null; problem: string }

/**
 * Parses and checks a manifest: every line parses, the chain of `prev` holds, and the signature
 * verifies for the chain's head with `publicKey` (when given). Returns the entries and the first
 * problem (entry number, or null for the manifest as a whole).
 */
export function readManifest(text: string, publicKey: KeyObject | undefined): { entries: SegmentEntry[]; problem?: ManifestProblem } {
  const lines = text.split('\n').filter((line) => line !== '')
  const entries: SegmentEntry[] = []
  const last = lines.at(-1)
  let signature: ManifestSignature | undefined
  try {
    signature = last ? (JSON.parse(last) as { signature?: ManifestSignature }).signature : undefined
  } catch {
    signature = undefined
  }
  const entryLines = signature ? lines.slice(0, -1) : lines
  let prev = NO_PREVIOUS
  for (const [index, line] of entryLines.entries()) {
    let entry: SegmentEntry
    try {
      entry = JSON.parse(line) as SegmentEntry
    } catch {
      return { entries, problem: { entry: index + 1, problem: `manifest line ${index + 1} is not JSON: the manifest was edited` } }
    }
    if (entry.v !== ARCHIVE_VERSION || entry.n !== index + 1) return { entries, problem: { entry: index + 1, problem: `manifest entry ${index + 1} is out of place (it says n=${String(entry.n)}): entries were reordered, removed or inserted` } }
    // The entry before was changed after this one linked to it (or, less likely, this link was).
    if (entry.prev !== prev) return { entries, problem: { entry: index, problem: `manifest entry ${index} was edited: entry ${index + 1} no longer links to it` } }
    entries.push(entry)
    prev = lineHash(line)
  }
  if (!signature) return { entries, problem: { entry: null, problem: 'the manifest has no signature line: it was truncated or edited' } }
  if (signature.entries !== entries.length || signature.head !== prev) {
    return { entries, problem: { entry: null, problem: `the signature covers ${signature.entries} entries ending in ${signature.head.slice(0, 16)}…, the manifest has ${entries.length} ending in ${prev.slice(0, 16)}…: entries were added, removed or edited` } }
  }
  if (publicKey) {
    let valid = false
    try {
      valid = verify(null, signedMessage(signature.entries, signature.head), publicKey, Buffer.from(signature.sig, 'base64'))
    } catch {
      valid = false
    }
    if (!valid) return { entries, problem: { entry: null, problem: `the manifest's signature does not verify with the public key given (signed by key ${signature.key_id})` } }
  }
  return { entries }
}
