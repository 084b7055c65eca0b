/**
 * One catalog of every error auditq raises on purpose. Each code has a fixed HTTP status so the
 * HTTP layer never guesses, and tests assert on `code`, never on message text.
 */
export const ERROR_CATALOG = {
  AUDITQ_VALIDATION: { status: 400, summary: 'An event broke a field rule; `details` names each field and rule.' },
  AUDITQ_BAD_REQUEST: { status: 400, summary: 'The request itself is malformed (JSON syntax, query parameter, cursor).' },
  AUDITQ_TOO_MANY_EVENTS: { status: 413, summary: 'More events in one request than `maxEventsPerRequest`.' },
  AUDITQ_HEADERS_TOO_LARGE: { status: 431, summary: 'Request headers are over the HTTP parser limit (16 KiB).' },
  AUDITQ_BODY_TOO_LARGE: { status: 413, summary: 'Request body or one NDJSON line is over its byte limit.' },
  AUDITQ_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'Content-Type is neither application/json nor application/x-ndjson.' },
  AUDITQ_UNAUTHORIZED: { status: 401, summary: 'No valid API key was presented (`Authorization: Bearer <key>`).' },
  AUDITQ_FORBIDDEN: { status: 403, summary: 'The key lacks the scope the endpoint requires, or asked for another tenant.' },
  AUDITQ_RATE_LIMITED: { status: 429, summary: 'The key (or, in open mode, the client address) sent more requests than its rate limit; retry after `Retry-After` seconds.' },
  AUDITQ_NOT_FOUND: { status: 404, summary: 'No event or route by that name.' },
  AUDITQ_REQUEST_TIMEOUT: { status: 408, summary: 'The request (headers and body) did not arrive within the request timeout; the connection is closed.' },
  AUDITQ_OVERLOADED: { status: 503, summary: 'The service holds its limit of request-body bytes in flight; retry after `Retry-After` seconds.' },
  AUDITQ_BUSY: { status: 503, summary: 'Every slot for this kind of read (export, report, chain verification) is taken in this process; retry after `Retry-After` seconds.' },
  AUDITQ_STORE_UNAVAILABLE: { status: 503, summary: 'The store could not be reached; nothing was stored, retry later.' },
  AUDITQ_EMBEDDED_UNAVAILABLE: { status: 500, summary: "The embedded store has no SQLite driver: better-sqlite3 has no loadable native binding and this Node.js has no node:sqlite (or the forced driver is unavailable); the message names the fixes." },
  AUDITQ_STORE_REJECTED: { status: 500, summary: 'The store refused an event the validator accepted (reported per event).' },
  AUDITQ_QUEUE_FULL: { status: 503, summary: 'Queue mode: the queue is over its cap and the overflow policy is drop.' },
  AUDITQ_QUEUE_UNAVAILABLE: { status: 503, summary: 'Queue mode: Redis did not confirm an enqueue (connection lost, timeout, out of memory).' },
  AUDITQ_SPILL_FULL: { status: 503, summary: 'The event had to spill (Redis down or over its cap) and the local spill journal reached its size limit; nothing of that call was written.' },
  AUDITQ_SPILL_FAILED: { status: 503, summary: 'The event had to spill and a journal write or fsync failed (errno in the message), or the spill directory could not be opened; writes are retried after a short backoff.' },
  AUDITQ_SERVICE_UNREACHABLE: { status: 503, summary: 'CLI: the auditq service did not answer (`auditq status --url`).' },
  AUDITQ_ACCESS_UNRECORDED: { status: 503, summary: 'The access to the audit trail could not be recorded (the store refused its `auditq.*` event), so the access was refused; retry later.' },
  AUDITQ_CLOSED: { status: 503, summary: 'The logger or service is shutting down and accepts no more events.' },
  AUDITQ_IMPORT_UNAVAILABLE: { status: 500, summary: 'CLI: `auditq import bullmq` needs the optional bullmq package, which is not installed.' },
  AUDITQ_IMPORT_SOURCE_UNREACHABLE: { status: 503, summary: 'CLI: `auditq import` could not reach the Redis holding the queue to import (host named, credentials left out).' },
  AUDITQ_VIEWER_TOKEN_EXPIRED: { status: 401, summary: 'The viewer token has expired; the application mints a new one.' },
  AUDITQ_VIEWER_TOKEN_INVALID: { status: 401, summary: 'The viewer token is missing, malformed, not signed with the current viewer secret, or not meant for the viewer.' },
  AUDITQ_VIEWER_DISABLED: { status: 404, summary: 'The embeddable viewer is off: no viewer signing secret is configured (`AUDITQ_VIEWER_SECRET`).' },
  AUDITQ_STREAM_INVALID: { status: 400, summary: 'A stream definition broke a rule (name, sink URL, filter glob, option); `details` names the field and rule.' },
  AUDITQ_STREAM_EXISTS: { status: 409, summary: 'A stream by that name already exists.' },
  AUDITQ_STREAM_NOT_FOUND: { status: 404, summary: 'No stream by that name (or not one the caller\'s tenant owns).' },
  AUDITQ_CONFIG: { status: 500, summary: 'Configuration is invalid; the message names the setting.' },
  AUDITQ_MASTER_KEY: { status: 500, summary: 'Crypto-shredding is configured and its master key is missing, malformed, or not the key the stored subject keys are wrapped under; the message names the setting.' },
  AUDITQ_INTERNAL: { status: 500, summary: 'An unexpected fault; details are in the server log, never in the response.' },
  AUDITQ_NOT_PROVABLE: { status: 409, summary: 'No Merkle proof can be given yet: no signed checkpoint with a tree covers the event (sign one with `auditq checkpoint`), or a chain hash the tree needs is not stored.' },
} as const

export type ErrorCode = keyof typeof ERROR_CATALOG

export class AuditqError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AuditqError'
    this.code = code
    this.statusCode = ERROR_CATALOG[code].status
    this.details = options.details
  }
}

export function isAuditqError(value: unknown): value is AuditqError {
  return value instanceof AuditqError
}
