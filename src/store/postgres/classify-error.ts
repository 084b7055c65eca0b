import type { StoreErrorKind } from '../store.js'

/**
 * The explicit retryable list. An error is `transient` only if it matches one of these; anything
 * else is `data`, and the caller splits the batch to isolate the event PostgreSQL refused (one
 * event in a batch fails the whole statement). Keep this list short and deliberate: a data error
 * wrongly called transient blocks its batch forever, a transient one wrongly called data costs a
 * split and, at worst, dead letters that can be replayed.
 */

/** SQLSTATE classes (first two characters) that say nothing about the event. */
const TRANSIENT_SQLSTATE_CLASSES = new Set([
  '08', // connection exception: the link to the server failed
  '53', // insufficient resources: disk full, out of memory, too many connections
  // Syntax error or access rule violation: missing table or column, no privilege. Our own SQL or
  // schema is wrong (e.g. migrate() has not run), not the event; retrying after a fix succeeds,
  // whereas calling it `data` would dead-letter every event of every batch.
  '42',
])

/** Individual SQLSTATEs outside those classes. */
const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping or our backend was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: statement_timeout or pg_cancel_backend — a busy server, not the content
  '40001', // serialization_failure
  '40P01', // deadlock_detected
])

/** Node socket and DNS errors on the way to the server, and auditq's own "unreachable". */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND', // DNS that has not caught up yet, e.g. a database service being rescheduled
  'EAI_AGAIN',
  'AUDITQ_STORE_UNAVAILABLE', // our own deadline, e.g. ping()
])

/**
 * Messages node-postgres and pg-pool raise without a code. Matched as prefixes of the message:
 * they are the libraries' fixed strings, and there is nothing else to match on.
 */
const TRANSIENT_MESSAGES = [
  'Connection terminated', // unexpectedly, or due to connection timeout
  'timeout exceeded when trying to connect', // pg-pool: no client within connectionTimeoutMillis
  'Query read timeout', // query_timeout elapsed
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  // The store was closed under a running call: the event is fine; whoever retries it elsewhere may.
  'Cannot use a pool after calling end on the pool',
]

/** How deep to follow `cause` and AggregateError members; node nests at most two levels. */
const MAX_DEPTH = 4

export function classifyPostgresError(error: unknown): StoreErrorKind {
  return isTransient(error, 0) ? 'transient' : 'data'
}

function isTransient(error: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH || typeof error !== 'object' || error === null) return false
  const { code, message, cause, errors } = error as {
    code?: unknown
    message?: unknown
    cause?: unknown
    errors?: unknown
  }
  if (typeof code === 'string') {
    if (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_SQLSTATES.has(code)) return true
    // A SQLSTATE is five characters; check the length so a node code never matches by its prefix.
    if (code.length === 5 && TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2))) return true
  }
  if (typeof message === 'string' && TRANSIENT_MESSAGES.some((known) => message.startsWith(known))) return true
  // Node 20 connects to every address of a host name and reports an AggregateError of them all.
  if (Array.isArray(errors) && errors.some((member) => isTransient(member, depth + 1))) return true
  return isTransient(cause, depth + 1)
}
