/**
 * Feed cursors: opaque to clients (base64url of a small versioned JSON array), validated on the
 * way in. A cursor grants nothing: the tenant a read is bound to comes from the caller's key, and a
 * cursor naming any other tenant, or the other kind of feed, is refused with an error naming `after`.
 */
import { AuditqError } from '../errors.js'
import type { FeedPosition } from './feed-event.js'

const VERSION = 'f1'
const MAX_CURSOR_CHARS = 1_024

export function encodeFeedCursor(position: FeedPosition): string {
  const body =
    position.scope === 'tenant'
      ? [VERSION, 't', position.tenant, position.seq]
      : [VERSION, 'a', position.key, position.tenant, position.seq]
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')
}

/**
 * Decodes `cursor` for a read bound to `tenant` (undefined: the all-tenants feed). Throws
 * AUDITQ_BAD_REQUEST naming `after` for anything malformed, and for a cursor of another tenant or
 * of the other kind of feed.
 */
export function decodeFeedCursor(cursor: string, tenant: string | undefined): FeedPosition {
  const position = parse(cursor)
  if (tenant === undefined && position.scope !== 'all') {
    throw invalid('is a single tenant\'s cursor; the all-tenants feed needs a cursor it returned itself')
  }
  if (tenant !== undefined && (position.scope !== 'tenant' || position.tenant !== tenant)) {
    throw invalid('was not issued by this tenant\'s feed')
  }
  return position
}

function parse(cursor: string): FeedPosition {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalid('must be a cursor returned by the feed (base64url)')
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid('is not a feed cursor')
  }
  if (!Array.isArray(body) || body[0] !== VERSION) throw invalid('is not a feed cursor of this version')
  const seqOk = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
  if (body[1] === 't' && body.length === 4 && typeof body[2] === 'string' && body[2] !== '' && seqOk(body[3])) {
    return { scope: 'tenant', tenant: body[2], seq: body[3] }
  }
  if (body[1] === 'a' && body.length === 5 && typeof body[2] === 'string' && /^\d{1,19}$/.test(body[2]) && typeof body[3] === 'string' && seqOk(body[4])) {
    return { scope: 'all', key: body[2], tenant: body[3], seq: body[4] }
  }
  throw invalid('is not a well-formed feed cursor')
}

function invalid(message: string): AuditqError {
  return new AuditqError('AUDITQ_BAD_REQUEST', `after: ${message}`, {
    details: [{ field: 'after', rule: 'cursor', message }],
  })
}
