import { AuditqError } from '../errors.js'
import { decodeBase64Url, encodeBase64Url } from '../util/base64url.js'
import type { CursorPosition } from './store.js'

const CURSOR_VERSION = 1
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Opaque to clients: base64url of a small versioned JSON, so the format can change without breaking them.
 * Runtime-neutral (no Buffer): the Cloudflare Workers edition pages with the same cursors.
 */
export function encodeCursor(position: CursorPosition): string {
  return encodeBase64Url(JSON.stringify({ v: CURSOR_VERSION, t: position.occurred_at, i: position.id }))
}

export function decodeCursor(cursor: string): CursorPosition {
  const invalid = () => new AuditqError('AUDITQ_BAD_REQUEST', 'cursor: not a cursor returned by this API (rule: cursor)', {
    details: [{ field: 'cursor', rule: 'cursor', message: 'not a cursor returned by this API' }],
  })
  if (cursor.length > 200) throw invalid()
  let parsed: unknown
  try {
    parsed = JSON.parse(decodeBase64Url(cursor))
  } catch {
    throw invalid()
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid()
  const { v, t, i } = parsed as Record<string, unknown>
  if (v !== CURSOR_VERSION || typeof t !== 'string' || typeof i !== 'string' || !ISO_MS.test(t) || !UUID.test(i)) {
    throw invalid()
  }
  // The right shape is not enough: month 13 or hour 99 must not reach the store's query builder.
  const ms = Date.parse(t)
  // Year 0000 round-trips too, but no event is stored before 1970 and PostgreSQL refuses year 0.
  if (Number.isNaN(ms) || ms < 0 || new Date(ms).toISOString() !== t) throw invalid()
  return { occurred_at: t, id: i }
}
