/**
 * An event prepared once, at the edge, for the PostgreSQL insert: its canonical form (auditq.v2,
 * the bytes the chain hashes), their content digest, and its search document. The queue carries
 * exactly this, and the worker passes the canonical bytes through to the insert, where PostgreSQL
 * splits them into columns (src/store/postgres/canonical-insert-sql.ts): no JSON.parse, no
 * re-canonicalization and no array literals per event in the worker (docs/decisions.md, "The
 * queue moves bytes").
 */
import * as crypto from 'node:crypto'
import { EVENT_FIELDS, type AuditEvent } from '../event/types.js'
import { searchTokens } from '../query/search/document.js'
import { toTsvector } from '../query/search/syntax.js'
import { canonicalEvent } from './canonical.js'
import { CANONICAL_TAGS } from './canonical-version.js'
import { CANONICAL_V2_LENGTH, CANONICAL_V2_POSITIONS } from './canonical-layout.js'

export { CANONICAL_V2_LENGTH, CANONICAL_V2_POSITIONS }

export interface PreparedEvent {
  /** Lower case, as the canonical form holds it. */
  id: string
  tenant_id: string
  /**
   * `canonicalEvent(event, 2)`: a JSON array, fields by position (CANONICAL_V2_POSITIONS). As the
   * queue delivered it, UTF-8 bytes, when it came from one: they go to PostgreSQL undecoded.
   */
  canonical: string | Buffer
  /** SHA-256 of `canonical`, lower-case hex. */
  digest: string
  /** The search document as a tsvector literal (`'word':1 'other':2`), [a-z0-9':  ] only. */
  search: string
}


/** `["auditq.v2","` then the 36 characters of the id, then `","` and the tenant as a JSON string. */
const PREFIX = `["${CANONICAL_TAGS[2]}","`
const ID_END = PREFIX.length + 36
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Characters a search document may hold: tokens are [a-z0-9], positions digits (syntax.ts). */
const SEARCH_DOCUMENT = /^[a-z0-9': ]*$/

export function prepareEvent(event: AuditEvent): PreparedEvent {
  const canonical = canonicalEvent(event, 2)
  return {
    id: event.id.toLowerCase(),
    tenant_id: event.tenant_id,
    canonical,
    digest: sha256Hex(canonical),
    search: toTsvector(searchTokens(event)),
  }
}

export class PreparedEventError extends Error {
  override readonly name = 'PreparedEventError'
}

/**
 * Checks what a queue entry claims and returns the prepared event, or throws PreparedEventError
 * naming the rule broken. The one check that costs anything is the digest (one SHA-256 of the
 * canonical bytes, which the chain needs anyway); the id and tenant are read from the canonical
 * prefix without parsing the rest. A hand-edited or corrupted entry fails here, before the store.
 */
export function verifyPrepared(canonical: string | Buffer, digestHex: string, search: string): PreparedEvent {
  // The prefix is ASCII up to the tenant, so its characters are its bytes either way.
  const head = typeof canonical === 'string' ? canonical.slice(0, ID_END + 3) : canonical.toString('latin1', 0, ID_END + 3)
  const last = typeof canonical === 'string' ? canonical.charCodeAt(canonical.length - 1) : canonical[canonical.length - 1]
  if (!head.startsWith(PREFIX) || last !== 93 /* ] */) throw new PreparedEventError(`canonical: not an ${CANONICAL_TAGS[2]} array`)
  const digest = sha256Hex(canonical)
  if (digest !== digestHex) {
    throw new PreparedEventError('digest: does not match the SHA-256 of the canonical bytes (corrupted or edited entry)')
  }
  if (!SEARCH_DOCUMENT.test(search)) throw new PreparedEventError("search: a search document holds only [a-z0-9': ]")
  const id = head.slice(PREFIX.length, ID_END)
  if (!UUID.test(id) || !head.endsWith('","')) throw new PreparedEventError('canonical: id is not a lower-case UUID in position 1')
  return { id, tenant_id: tenantOf(canonical), canonical, digest, search }
}

/** The tenant, position 2: a JSON string starting right after the id. */
function tenantOf(canonical: string | Buffer): string {
  const start = ID_END + 3
  // Fast path: no escape inside (tenant ids are short plain strings); else let JSON read it. In
  // UTF-8 a byte '"', '\\' or ',' is always that character, never part of another.
  const end = canonical.indexOf('"', start)
  if (end > 0) {
    const raw = typeof canonical === 'string' ? canonical.slice(start, end) : canonical.toString('utf8', start, end)
    const next = typeof canonical === 'string' ? canonical.charCodeAt(end + 1) : canonical[end + 1]
    if (!raw.includes('\\') && next === 44 /* , */) return raw
  }
  const fields = parseCanonical(canonical)
  if (typeof fields[2] !== 'string') throw new PreparedEventError('canonical: tenant_id is not a string in position 2')
  return fields[2]
}

function parseCanonical(canonical: string | Buffer): unknown[] {
  let fields: unknown
  try {
    fields = JSON.parse(typeof canonical === 'string' ? canonical : canonical.toString('utf8'))
  } catch {
    throw new PreparedEventError('canonical: not valid JSON')
  }
  if (!Array.isArray(fields) || fields.length !== CANONICAL_V2_LENGTH || fields[0] !== CANONICAL_TAGS[2]) {
    throw new PreparedEventError(`canonical: not an ${CANONICAL_TAGS[2]} array of ${CANONICAL_V2_LENGTH} values`)
  }
  return fields
}

/**
 * The event back from its canonical form: the slow path, for what needs the fields in Node (a
 * store without the canonical insert, dead-letter accounting, `auditq dlq show`). Lossless: the
 * form holds every field, and the stores keep what it holds (ids lower-case, timestamps in ms).
 */
export function eventFromCanonical(canonical: string | Buffer): AuditEvent {
  const fields = parseCanonical(canonical)
  const event = {} as Record<string, unknown>
  for (const field of EVENT_FIELDS) event[field] = fields[CANONICAL_V2_POSITIONS[field]] ?? null
  return event as unknown as AuditEvent
}

const oneShot = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash
const sha256Hex: (data: string | Buffer) => string = oneShot
  ? (data) => oneShot('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex')
