#!/usr/bin/env node
/**
 * Offline check of an auditq proof bundle (`auditq export --proof`), in one file that needs
 * nothing but Node.js (18+) and its built-in modules: an auditor can run it without installing
 * auditq. The bundle format and every rule checked here are specified in docs/integrity.md.
 *
 *   node verify-bundle.mjs BUNDLE --public-key KEY.pub [--public-key OLD.pub ...] [--json]
 *
 * Exit code 0: every event in the bundle is in a tree whose root a checkpoint signed with one of
 * the keys, the checkpoints are consistent with each other, and nothing was removed, added or
 * reordered. 1: the bundle fails, and the reason is named. 2: bad usage or an unreadable file.
 *
 * `auditq verify-bundle` runs this same code, giving it auditq's own canonical serializers.
 */
import * as crypto from 'node:crypto'
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto'
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BUNDLE_FORMAT = 'auditq.bundle.v1'

// One-shot crypto.hash where Node has it (20.12+): a third of a Hash object's cost per node.
const sha256 = crypto.hash
  ? (...parts) => crypto.hash('sha256', parts.length === 1 ? parts[0] : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))), 'buffer')
  : (...parts) => {
      const hash = createHash('sha256')
      for (const part of parts) hash.update(part)
      return hash.digest()
    }
// Scratch inputs (0x00 ‖ leaf, 0x01 ‖ left ‖ right): hashing is synchronous, so one of each does.
const leafInput = Buffer.alloc(33, 0)
const nodeInput = Buffer.alloc(65, 1)
const leafHash = (data) => (data.length === 32 ? (data.copy(leafInput, 1), sha256(leafInput)) : sha256(Buffer.from([0]), data))
const nodeHash = (left, right) => {
  if (left.length !== 32 || right.length !== 32) return sha256(Buffer.from([1]), left, right)
  left.copy(nodeInput, 1)
  right.copy(nodeInput, 33)
  return sha256(nodeInput)
}

/** RFC 9162 §2.1.3.2: is `leaf` the leaf at `index` of the tree of `size` leaves with root `root`? */
export function verifyInclusion(index, size, leaf, proof, root) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
        }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && r.equals(root)
}

/** RFC 9162 §2.1.4.2: is the tree of `size1` leaves (root1) a prefix of the tree of `size2` (root2)? */
export function verifyConsistency(size1, size2, root1, root2, proof) {
  if (!(Number.isSafeInteger(size1) && Number.isSafeInteger(size2) && size1 >= 1 && size1 <= size2)) return false
  if (size1 === size2) return proof.length === 0 && root1.equals(root2)
  if (proof.length === 0) return false
  let path = proof
  const isPowerOfTwo = (n) => {
    while (n > 1 && n % 2 === 0) n /= 2
    return n === 1
  }
  if (isPowerOfTwo(size1)) path = [root1, ...proof]
  let fn = size1 - 1
  let sn = size2 - 1
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  let fr = path[0]
  let sr = path[0]
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
        }
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2)
}

// ---- The canonical form an event is hashed over (docs/integrity.md, "Canonical form") ----

const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const timestamp = (value) => (CANONICAL_TIMESTAMP.test(value) ? value : new Date(value).toISOString())

/** JSON with object keys in UTF-16 code-unit order at every depth, no whitespace. */
export function canonicalJson(value) {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const members = Object.keys(value)
    .sort()
    .filter((key) => value[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
  return `{${members.join(',')}}`
}

/** auditq.v1: a JSON array, positions fixed, null where a field is absent, metadata canonical. */
function canonicalV1(event) {
  const fields = [
    'auditq.v1', String(event.id).toLowerCase(), event.tenant_id, timestamp(event.occurred_at), timestamp(event.received_at),
    event.action, event.category, event.actor_id, event.actor_type, event.resource_type, event.resource_id, event.success,
    event.error_message, event.description, event.ip_address, event.user_agent, event.session_id, event.request_id,
    event.client_id, event.metadata,
  ].map((field) => (field === undefined ? null : field))
  return canonicalJson(fields)
}

/**
 * auditq.v2: v1's fields with actor_name, targets, changes, producer_id, producer_seq,
 * subject_index and sealed in their fixed positions; every structured value canonical JSON.
 */
function canonicalV2(event) {
  const fields = [
    'auditq.v2', String(event.id).toLowerCase(), event.tenant_id, timestamp(event.occurred_at), timestamp(event.received_at),
    event.action, event.category, event.actor_id, event.actor_type, event.actor_name, event.resource_type, event.resource_id,
    event.targets, event.changes, event.success, event.error_message, event.description, event.ip_address, event.user_agent,
    event.session_id, event.request_id, event.client_id, event.producer_id, event.producer_seq, event.subject_index,
    event.sealed, event.metadata,
  ].map((field) => (field === undefined ? null : field))
  return canonicalJson(fields)
}

/** Serializers by the canonical version tag each event in a bundle carries. */
export const CANONICAL_FORMS = { 'auditq.v1': canonicalV1, 'auditq.v2': canonicalV2 }

const HEX_HASH = /^[0-9a-f]{64}$/
const hashBytes = (hash) => (HEX_HASH.test(hash) ? Buffer.from(hash, 'hex') : sha256(hash))

/** The chain hash of an event from its predecessor's, in the chain format it was written with. */
function chainHash(format, prevHash, canonical) {
  if (format === 1) return sha256(`${prevHash}\n${canonical}`).toString('hex')
  if (format === 2) return sha256(hashBytes(prevHash), sha256(canonical)).toString('hex')
  return undefined
}

// ---- Checkpoints ----

function checkpointMessage(c) {
  const cut = c.cut
  const fields = [
    c.tree ? 'auditq.checkpoint.v2' : 'auditq.checkpoint.v1', c.tenant_id, c.seq, c.hash, c.created_at,
    cut ? [cut.tenant_id, cut.seq, cut.hash, cut.cutoff, cut.keep_actions, cut.kept_count, cut.kept_digest] : null,
  ]
  if (c.tree) fields.push(c.tree.size, c.tree.root)
  return Buffer.from(JSON.stringify(fields))
}

function signedByOneOf(checkpoint, keys) {
  return keys.some((key) => {
    try {
      return verifySignature(null, checkpointMessage(checkpoint), key, Buffer.from(String(checkpoint.signature), 'base64'))
    } catch {
      return false
    }
  })
}

// ---- The bundle ----

class BundleFailure extends Error {
  constructor(reason, detail, where = {}) {
    super(detail)
    this.failure = { reason, detail, ...where }
  }
}

const hexList = (list, what) => {
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && HEX_HASH.test(item))) throw new BundleFailure('malformed', `${what}: not a list of 64-digit hex hashes`)
  return list.map((item) => Buffer.from(item, 'hex'))
}

/**
 * Checks a bundle (its text) against the given public keys (PEM text or KeyObjects). Returns
 * `{ ok, events, tenants, checkpoints, unproven, failure? }`; `failure.reason` is one of
 * malformed, bad_signature, forked, unsigned, modified, added, removed, reordered.
 */
export function verifyBundle(text, publicKeys, options = {}) {
  const canonicalForms = { ...CANONICAL_FORMS, ...(options.canonicalForms ?? {}) }
  const keys = publicKeys.map((key) => (typeof key === 'string' ? createPublicKey(key) : key))
  const summary = { ok: false, events: 0, tenants: 0, checkpoints: 0, unproven: 0 }
  try {
    Object.assign(summary, check(text, keys, canonicalForms))
    summary.ok = true
  } catch (error) {
    if (!(error instanceof BundleFailure)) throw error
    summary.failure = error.failure
  }
  return summary
}

function check(text, keys, canonicalForms) {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  const records = lines.map((line, i) => {
    try {
      return JSON.parse(line)
    } catch {
      throw new BundleFailure('malformed', `line ${i + 1} is not JSON`)
    }
  })
  const header = records[0]
  if (!header || header.type !== 'header' || header.format !== BUNDLE_FORMAT) throw new BundleFailure('malformed', `the first line is not a ${BUNDLE_FORMAT} header`)
  const end = records.at(-1)
  if (!end || end.type !== 'end' || !Number.isSafeInteger(end.events)) {
    throw new BundleFailure('removed', 'the bundle has no end line: it was cut short, events after the cut are missing')
  }
  // Checkpoints: each signed by one of the keys; per tenant by tree size, roots never disagree.
  const trees = new Map()
  let checkpointCount = 0
  for (const record of records) {
    if (record.type !== 'checkpoint') continue
    const c = record.checkpoint
    if (!c || !c.tree || !Number.isSafeInteger(c.tree.size) || typeof c.tree.root !== 'string' || !HEX_HASH.test(c.tree.root)) {
      throw new BundleFailure('malformed', 'a checkpoint line carries no Merkle tree (size and root)')
    }
    if (!signedByOneOf(c, keys)) {
      throw new BundleFailure('bad_signature', `the checkpoint of tenant ${c.tenant_id} at tree size ${c.tree.size} verifies with none of the public keys given`, { tenant_id: c.tenant_id, tree_size: c.tree.size })
    }
    checkpointCount += 1
    const byTenant = trees.get(c.tenant_id) ?? new Map()
    trees.set(c.tenant_id, byTenant)
    const seen = byTenant.get(c.tree.size)
    if (seen !== undefined && seen !== c.tree.root) {
      throw new BundleFailure('forked', `tenant ${c.tenant_id}: two signed checkpoints give different roots for the same tree size ${c.tree.size}`, { tenant_id: c.tenant_id, tree_size: c.tree.size })
    }
    byTenant.set(c.tree.size, c.tree.root)
  }
  // Consistency: every signed tree of a tenant must extend the one before it.
  const proven = new Set()
  for (const record of records) {
    if (record.type !== 'consistency') continue
    const byTenant = trees.get(record.tenant_id)
    const root1 = byTenant?.get(record.from)
    const root2 = byTenant?.get(record.to)
    if (root1 === undefined || root2 === undefined) throw new BundleFailure('unsigned', `tenant ${record.tenant_id}: a consistency proof between tree sizes ${record.from} and ${record.to} names a tree no checkpoint here signed`)
    if (!verifyConsistency(record.from, record.to, Buffer.from(root1, 'hex'), Buffer.from(root2, 'hex'), hexList(record.proof, 'consistency proof'))) {
      throw new BundleFailure('forked', `tenant ${record.tenant_id}: the signed trees of size ${record.from} and ${record.to} are not consistent (the log forked or was rewritten)`, { tenant_id: record.tenant_id, tree_size: record.to })
    }
    proven.add(`${record.tenant_id}\u0000${record.from}\u0000${record.to}`)
  }
  for (const [tenant, byTenant] of trees) {
    const sizes = [...byTenant.keys()].sort((a, b) => a - b)
    for (let i = 1; i < sizes.length; i++) {
      if (!proven.has(`${tenant}\u0000${sizes[i - 1]}\u0000${sizes[i]}`)) {
        throw new BundleFailure('forked', `tenant ${tenant}: no consistency proof shows the signed tree of size ${sizes[i]} extends the one of size ${sizes[i - 1]}`, { tenant_id: tenant, tree_size: sizes[i] })
      }
    }
  }
  // Events are numbered 1..n in bundle order: a number twice means one was added, numbers out of
  // order mean lines were moved, a number missing means one was removed.
  const events = records.filter((record) => record.type === 'event')
  const numbers = events.map((record) => record.n)
  if (!numbers.every((n) => Number.isSafeInteger(n) && n >= 1)) throw new BundleFailure('malformed', 'every event line needs its number n (1, 2, 3 ...)')
  const seen = new Set()
  for (const [i, n] of numbers.entries()) {
    if (seen.has(n)) throw new BundleFailure('added', `a second event numbered ${n}: added to the bundle`, { tenant_id: events[i].tenant_id, seq: events[i].seq })
    seen.add(n)
  }
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] < numbers[i - 1]) throw new BundleFailure('reordered', `event number ${numbers[i]} comes after number ${numbers[i - 1]}: events are out of order`, { tenant_id: events[i].tenant_id, seq: events[i].seq })
  }
  for (let i = 0; i < numbers.length; i++) {
    if (numbers[i] !== i + 1) throw new BundleFailure('removed', `event number ${i + 1} is missing (the next one is number ${numbers[i]}): removed from the bundle`, { tenant_id: events[i].tenant_id, seq: events[i].seq })
  }
  // Then per tenant in ascending seq, each hashing to its leaf, each leaf in a signed tree.
  let count = 0
  const last = new Map()
  for (const record of events) {
    count += 1
    const { tenant_id: tenant, seq } = record
    const where = { tenant_id: tenant, seq }
    if (!Number.isSafeInteger(seq) || seq < 1) throw new BundleFailure('malformed', `event number ${count}: seq must be a positive integer`, where)
    const before = last.get(tenant)
    if (before && seq === before.seq) throw new BundleFailure('added', `tenant ${tenant}: a second event at seq ${seq}`, where)
    if (before && seq < before.seq) throw new BundleFailure('reordered', `tenant ${tenant}: seq ${seq} comes after seq ${before.seq}: events are out of order`, where)
    const serialize = canonicalForms[record.canonical]
    if (!serialize) throw new BundleFailure('malformed', `event at seq ${seq}: unknown canonical form ${JSON.stringify(record.canonical)} (this verifier knows ${Object.keys(canonicalForms).join(', ')})`, where)
    if (!record.event || record.event.tenant_id !== tenant) throw new BundleFailure('modified', `event at seq ${seq}: its tenant is not the one its line names`, where)
    const recomputed = chainHash(record.chain_format, String(record.prev_hash), serialize(record.event))
    if (recomputed === undefined) throw new BundleFailure('malformed', `event at seq ${seq}: unknown chain format ${JSON.stringify(record.chain_format)}`, where)
    if (recomputed !== record.hash) throw new BundleFailure('modified', `tenant ${tenant} seq ${seq} (event ${record.event.id}): the content does not hash to the chain hash it carries: altered`, where)
    if (before && seq === before.seq + 1 && record.prev_hash !== before.hash) {
      throw new BundleFailure('modified', `tenant ${tenant} seq ${seq}: does not link to seq ${before.seq} before it`, where)
    }
    const root = trees.get(tenant)?.get(record.tree_size)
    if (root === undefined) throw new BundleFailure('unsigned', `tenant ${tenant} seq ${seq}: no signed checkpoint in the bundle has tree size ${record.tree_size}`, where)
    if (!verifyInclusion(seq - 1, record.tree_size, leafHash(Buffer.from(record.hash, 'hex')), hexList(record.proof, 'inclusion proof'), Buffer.from(root, 'hex'))) {
      throw new BundleFailure('added', `tenant ${tenant} seq ${seq} (event ${record.event.id}): not in the signed tree of size ${record.tree_size}: its inclusion proof fails`, where)
    }
    last.set(tenant, { seq, hash: record.hash })
  }
  if (count < end.events) throw new BundleFailure('removed', `the end line counts ${end.events} events, the bundle holds ${count}: events were removed`)
  if (count > end.events) throw new BundleFailure('added', `the end line counts ${end.events} events, the bundle holds ${count}: events were added`)
  return { events: count, tenants: trees.size, checkpoints: checkpointCount, unproven: Number(end.unproven ?? 0) }
}

/** The command line: prints one line per outcome; `--json` prints the summary object. */
export function main(argv) {
  const files = []
  const keyFiles = []
  let json = false
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--public-key') keyFiles.push(argv[++i])
    else if (argv[i] === '--json') json = true
    else files.push(argv[i])
  }
  if (files.length !== 1 || keyFiles.length === 0 || keyFiles.includes(undefined)) {
    process.stderr.write('usage: verify-bundle.mjs BUNDLE --public-key FILE [--public-key FILE ...] [--json]\n')
    return 2
  }
  let text
  let keys
  try {
    text = readFileSync(files[0], 'utf8')
    keys = keyFiles.map((file) => createPublicKey(readFileSync(file, 'utf8')))
  } catch (error) {
    process.stderr.write(`verify-bundle: ${error.message}\n`)
    return 2
  }
  const result = verifyBundle(text, keys)
  process.stdout.write(json ? JSON.stringify(result, null, 2) + '\n' : describe(result))
  return result.ok ? 0 : 1
}

export function describe(result) {
  if (!result.ok) return `FAILED (${result.failure.reason}): ${result.failure.detail}\n`
  const unproven = result.unproven > 0 ? `; ${result.unproven} matching events were newer than the latest checkpoint and left out` : ''
  return `OK: ${result.events} events in ${result.tenants} tenant(s), each in a tree signed by ${result.checkpoints} consistent checkpoint(s)${unproven}\n`
}

function invokedDirectly() {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}
if (invokedDirectly()) process.exitCode = main(process.argv.slice(2))
