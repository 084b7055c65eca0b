/**
 * The canonical serialization an event is hashed over, and the chain hash. Pure and documented
 * byte for byte in docs/integrity.md, so an auditor can re-implement it without reading this code.
 *
 * Why an array and not an object: the order is fixed by position, every field is present (null
 * when absent), and no key-ordering rule is needed except inside `metadata`, which is the only
 * free-form part. Metadata keys are sorted recursively (UTF-16 code-unit order) because the
 * PostgreSQL store keeps jsonb, which does not preserve key order.
 */
import * as crypto from 'node:crypto'
import type { AuditEvent } from '../event/types.js'

import { CANONICAL_TAGS, CURRENT_CANONICAL_VERSION, type CanonicalVersion } from './canonical-version.js'

export { CANONICAL_TAGS, CURRENT_CANONICAL_VERSION, type CanonicalVersion }

/** The predecessor of every tenant's first event (seq 1). */
export const GENESIS_HASH = '0'.repeat(64)

const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * Timestamps hashed as ISO-8601 UTC with exactly three fraction digits, whatever form was stored.
 * Both stores already return that form; the regex test is the fast path (a Date round trip costs
 * ~1 µs, a fifth of the whole canonical form).
 */
function normalizeTimestamp(value: string): string {
  return CANONICAL_TIMESTAMP.test(value) ? value : new Date(value).toISOString()
}

/**
 * JSON with object keys in UTF-16 code-unit order at every depth, no whitespace; strings and
 * numbers exactly as JSON.stringify writes them (ECMAScript rules, as in RFC 8785). Written out
 * by hand because JSON.stringify always puts integer-like keys ("9", "10") first, in numeric
 * order, which another language would not reproduce.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  // Loops and string appends rather than map/filter/join: this runs for every stored event, and
  // the intermediate arrays were half its cost.
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i])
    return `${out}]`
  }
  const record = value as Record<string, unknown>
  let out = '{'
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined) continue
    out += (out.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(member)
  }
  return `${out}}`
}

/**
 * True when JSON.stringify already writes `value` canonically: plain objects only, each one's keys
 * (as Object.keys lists them, which is the order JSON.stringify writes, integer-like keys first)
 * in strictly ascending UTF-16 order, all the way down. Validation sorts metadata keys
 * (event/metadata.ts), so this holds for nearly every event a worker or service stores, and one
 * native JSON.stringify of the whole event is then ~0.6 µs cheaper per event than canonicalJson
 * (docs/decisions.md, "The chain's CPU in Node"). Anything else (Dates, class instances, jsonb's key order
 * as PostgreSQL returns it) takes the general path, so the output never depends on the shortcut.
 */
export function stringifiesCanonically(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!stringifiesCanonically(value[i])) return false
    return true
  }
  const prototype = Object.getPrototypeOf(value) as unknown
  if (prototype !== Object.prototype && prototype !== null) return false
  const keys = Object.keys(value)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (i > 0 && !(keys[i - 1]! < key)) return false
    const member = (value as Record<string, unknown>)[key]
    // Object members that JSON.stringify drops or rewrites: take the general path and its rules.
    if (member === undefined || typeof member === 'function' || typeof member === 'symbol' || typeof member === 'bigint') return false
    if (!stringifiesCanonically(member)) return false
  }
  return true
}

/**
 * The canonical form of `event` under `version` (default: the current one). A row stored under
 * auditq.v1 must be hashed under it: v1 has no slot for the fields v2 added, so v2 of the same
 * row is a different string with a different digest.
 */
export function canonicalEvent(event: AuditEvent, version: CanonicalVersion = CURRENT_CANONICAL_VERSION): string {
  return version === 2 ? canonicalV2(event) : canonicalV1(event)
}

function canonicalV1(event: AuditEvent): string {
  const fields: unknown[] = [
    CANONICAL_TAGS[1],
    event.id.toLowerCase(),
    event.tenant_id,
    normalizeTimestamp(event.occurred_at),
    normalizeTimestamp(event.received_at),
    event.action,
    event.category,
    event.actor_id,
    event.actor_type,
    event.resource_type,
    event.resource_id,
    event.success,
    event.error_message,
    event.description,
    event.ip_address,
    event.user_agent,
    event.session_id,
    event.request_id,
    event.client_id,
  ]
  if (stringifiesCanonically(event.metadata)) {
    fields.push(event.metadata)
    return JSON.stringify(fields)
  }
  // The metadata object is the array's last element, appended in canonical form.
  return `${JSON.stringify(fields).slice(0, -1)},${canonicalJson(event.metadata)}]`
}

/**
 * auditq.v2 (docs/integrity.md, "Canonical form"): v1's fields with the fields added since put
 * where they belong by meaning, every one present (null when absent). The structured fields
 * (targets, changes, sealed, metadata) are the only objects; when each already stringifies
 * canonically (the validator builds them with sorted keys) one native JSON.stringify writes the
 * whole array, else canonicalJson does, which writes every primitive exactly as JSON.stringify.
 * `?? null`: an event encoded before these fields existed (an old queue entry) lacks the keys.
 */
function canonicalV2(event: AuditEvent): string {
  const targets = event.targets ?? null
  const changes = event.changes ?? null
  const sealed = event.sealed ?? null
  const fields: unknown[] = [
    CANONICAL_TAGS[2],
    event.id.toLowerCase(),
    event.tenant_id,
    normalizeTimestamp(event.occurred_at),
    normalizeTimestamp(event.received_at),
    event.action,
    event.category,
    event.actor_id,
    event.actor_type,
    event.actor_name ?? null,
    event.resource_type,
    event.resource_id,
    targets,
    changes,
    event.success,
    event.error_message,
    event.description,
    event.ip_address,
    event.user_agent,
    event.session_id,
    event.request_id,
    event.client_id,
    event.producer_id ?? null,
    event.producer_seq ?? null,
    event.subject_index ?? null,
    sealed,
    event.metadata,
  ]
  const fast =
    stringifiesCanonically(event.metadata) &&
    (targets === null || stringifiesCanonically(targets)) &&
    (changes === null || stringifiesCanonically(changes)) &&
    (sealed === null || stringifiesCanonically(sealed))
  return fast ? JSON.stringify(fields) : canonicalJson(fields)
}

/**
 * The chain hash of an event (chain format 2): lower-case hex of
 * `SHA-256(prev_hash as 32 bytes ‖ contentDigest(event))`, a 64-byte input. The content digest
 * is computed per event, in Node, before any lock is taken, so the part that must run in chain
 * order (under the tenant's head lock, in PostgreSQL's case inside the server) hashes 64 bytes
 * per event instead of the whole canonical form, and the batch travels without a second copy of
 * itself. The sequence number is deliberately not hashed: order is carried by the links (each
 * hash covers its predecessor's), so renumbering alone changes nothing, and any reordering breaks
 * a link that verify can name.
 */
export function chainHash(prevHash: string, event: AuditEvent, version: CanonicalVersion = CURRENT_CANONICAL_VERSION): string {
  return linkHash(prevHash, contentDigest(event, version))
}

/** SHA-256 of the canonical form (32 bytes): what an event contributes to its link. */
export function contentDigest(event: AuditEvent, version: CanonicalVersion = CURRENT_CANONICAL_VERSION): Buffer {
  return sha256(canonicalEvent(event, version))
}

/**
 * A stored `canonical_version` as a known version, or undefined: a value no version wrote (only
 * tampering stores one), which verify reports as a modified row rather than guessing a form.
 */
export function canonicalVersionOf(stored: unknown): CanonicalVersion | undefined {
  const version = Number(stored)
  return version === 1 || version === 2 ? version : undefined
}

/**
 * The tag a bundle or proof names for a row's stored `canonical_version`. A version no form has
 * gets a tag no verifier knows (`unknown:<stored>`), so the event fails verification by name
 * instead of being relabelled with a form it may happen to hash under.
 */
export function canonicalTagOf(stored: unknown): string {
  const version = canonicalVersionOf(stored)
  return version === undefined ? `unknown:${String(stored)}` : CANONICAL_TAGS[version]
}

/** Every canonical form by its tag: what a bundle verifier dispatches on (`auditq verify-bundle`). */
export const CANONICAL_SERIALIZERS: Readonly<Record<string, (event: AuditEvent) => string>> = Object.fromEntries(
  Object.entries(CANONICAL_TAGS).map(([version, tag]) => [tag, (event: AuditEvent) => canonicalEvent(event, Number(version) as CanonicalVersion)]),
)

const HEX_HASH = /^[0-9a-f]{64}$/

/** For inserts: the digest is computed before the lock is taken, only this part under it. */
export function linkHash(prevHash: string, digest: Buffer): string {
  return link(hashBytes(prevHash), digest).toString('hex')
}

/**
 * A stored hash as its 32 bytes. Only a tampered row or head holds anything but 64 lower-case hex
 * digits; that text is taken as SHA-256 of its UTF-8 (PostgreSQL's `auditq_hash_bytes` does the
 * same), so inserts after a tampered head still store events, chained to a value no stored row
 * carries, and verify names the break. Both stores and verify agree on every input.
 */
export function hashBytes(hash: string): Buffer {
  return HEX_HASH.test(hash) ? Buffer.from(hash, 'hex') : sha256(hash)
}

/** Reused by link(): it runs synchronously, so one scratch buffer per process is enough. */
const linkInput = Buffer.alloc(64)

/**
 * The content digests of `events`, 32 bytes each in order, in one buffer: what the PostgreSQL
 * insert sends. Each digest is written straight into it (through a 32-character latin1 string, a
 * byte per character): a Buffer per digest cost as much again as the hashing, 1.4 against
 * 0.7 µs per event measured.
 */
export function packedContentDigests(events: readonly AuditEvent[]): Buffer {
  const packed = Buffer.allocUnsafe(events.length * 32)
  for (let i = 0; i < events.length; i++) packed.write(sha256Latin1(canonicalEvent(events[i]!)), i * 32, 32, 'latin1')
  return packed
}

/**
 * The links of a run of packed digests (`digests[from .. from + count)`) chained from `prev`,
 * written into `out` at the same offsets. Returns the last link (a view into `out`).
 */
export function linkRun(prev: Buffer, digests: Buffer, from: number, count: number, out: Buffer): Buffer {
  let current = prev
  for (let i = from; i < from + count; i++) {
    current.copy(linkInput, 0, 0, 32)
    digests.copy(linkInput, 32, i * 32, i * 32 + 32)
    out.write(sha256Latin1(linkInput), i * 32, 32, 'latin1')
    current = out.subarray(i * 32, i * 32 + 32)
  }
  return current
}

/** The same link on raw bytes: SHA-256 over the 32-byte previous hash followed by the 32-byte digest. */
function link(prev: Buffer, digest: Buffer): Buffer {
  if (prev.length !== 32 || digest.length !== 32) throw new RangeError(`link: 32-byte inputs expected, got ${prev.length} and ${digest.length}`)
  prev.copy(linkInput, 0, 0, 32)
  digest.copy(linkInput, 32, 0, 32)
  return sha256(linkInput)
}

/**
 * Format 1, which hashed the canonical form itself: `SHA-256(prevHash + "\n" + canonical)`. Rows a
 * tenant stored before migration 6 keep it (their seq is below the tenant's recorded switch), so
 * chains written by earlier versions still verify.
 */
export function chainHashV1(prevHash: string, event: AuditEvent): string {
  return sha256Hex(`${prevHash}\n${canonicalEvent(event, 1)}`)
}

/**
 * One-shot `crypto.hash` (Node >= 20.12) is ~1 µs per event against ~3 µs for a Hash object:
 * measured 100k hashes of 600 bytes on the dev machine. Older Node 20 falls back.
 */
type OneShot = {
  (algorithm: string, data: string | Buffer, encoding: 'hex' | 'latin1'): string
  (algorithm: string, data: string | Buffer, encoding: 'buffer'): Buffer
}
const oneShot = (crypto as { hash?: OneShot }).hash
const sha256: (data: string | Buffer) => Buffer = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest()
const sha256Latin1: (data: string | Buffer) => string = oneShot
  ? (data) => oneShot('sha256', data, 'latin1')
  : (data) => crypto.createHash('sha256').update(data).digest('binary')
const sha256Hex: (data: string) => string = oneShot
  ? (data) => oneShot('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex')
