import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Transform } from 'node:stream'
import { AuditqError } from '../errors.js'

export interface BodyBudgetOptions {
  /** Bytes of request bodies this process holds at once, across all connections. */
  maxBytesInFlight: number
  /** The per-request body limit: a body over it is refused (413) before anything is reserved. */
  bodyLimitBytes: number
  /** Called once per refused body, for the refusal counters. */
  onRefused?: () => void
}

export interface BodyBudget {
  /** Bytes reserved right now by bodies being read, parsed or handled. */
  inFlightBytes(): number
}

/** A refused client is asked to come back after this many seconds: bodies in flight finish or time out within the request timeout. */
const RETRY_AFTER_SECONDS = 1

/**
 * One budget of request-body bytes per process. Each body reserves its declared Content-Length
 * before a byte of it is read (a chunked body reserves its bytes as they arrive) and gives them back
 * when its response is finished or its connection closes — the parsed events live that long too.
 * A body that would take the total past the budget is refused with 503 `AUDITQ_OVERLOADED` and
 * `Retry-After`, and its connection closed so the rest of it is not read. Without this, a key's
 * rate limit still admits hundreds of slow 4 MiB uploads at once, each buffered until complete.
 * The request timeout bounds how long any body can hold its share.
 */
export function installBodyBudget(app: FastifyInstance, options: BodyBudgetOptions): BodyBudget {
  if (options.maxBytesInFlight < options.bodyLimitBytes) {
    throw new AuditqError('AUDITQ_CONFIG', `http.maxBodyBytesInFlight (${options.maxBytesInFlight}) is below http.bodyLimitBytes (${options.bodyLimitBytes}): a body at the limit could never be accepted`)
  }
  let inFlight = 0

  const refuse = (request: FastifyRequest, bytes: number): AuditqError => {
    options.onRefused?.()
    request.log.warn({ bodyBytes: bytes, inFlightBytes: inFlight, maxBytesInFlight: options.maxBytesInFlight }, 'request body refused: the in-flight body budget is spent')
    return new AuditqError(
      'AUDITQ_OVERLOADED',
      `the service is holding ${inFlight} bytes of request bodies, and ${bytes} more would pass its ${options.maxBytesInFlight}-byte limit; retry after ${RETRY_AFTER_SECONDS} s`,
      { details: { max_body_bytes_in_flight: options.maxBytesInFlight, retry_after_seconds: RETRY_AFTER_SECONDS } },
    )
  }

  app.addHook('preParsing', async (request, reply, payload) => {
    const lengthHeader = request.headers['content-length']
    const declared = lengthHeader === undefined ? undefined : Number(lengthHeader)
    const chunked = request.headers['transfer-encoding'] !== undefined
    if (!chunked && (declared === undefined || !Number.isSafeInteger(declared) || declared === 0)) return payload
    // Over the per-request limit: fastify refuses it (413) without reading it; nothing to reserve.
    if (declared !== undefined && declared > options.bodyLimitBytes) return payload

    let held = 0
    reply.raw.once('close', () => {
      inFlight -= held
      held = 0
    })
    const reserve = (bytes: number): boolean => {
      if (inFlight + bytes > options.maxBytesInFlight) return false
      inFlight += bytes
      held += bytes
      return true
    }
    if (declared !== undefined && !chunked) {
      if (reserve(declared)) return payload
      reply.header('connection', 'close')
      throw refuse(request, declared)
    }
    return payload.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          if (reserve(chunk.length)) return callback(null, chunk)
          reply.header('connection', 'close')
          callback(refuse(request, held + chunk.length))
        },
      }),
    )
  })

  return { inFlightBytes: () => inFlight }
}
