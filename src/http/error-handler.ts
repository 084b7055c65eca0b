import type { FastifyError, FastifyInstance } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { AuditqError, ERROR_CATALOG, type ErrorCode } from '../errors.js'

/** fastify's own error codes, mapped onto the catalog so clients see one vocabulary. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'AUDITQ_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'AUDITQ_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'AUDITQ_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'AUDITQ_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'AUDITQ_BAD_REQUEST',
  FST_ERR_VALIDATION: 'AUDITQ_BAD_REQUEST',
}

export interface ErrorBody {
  statusCode: number
  code: ErrorCode
  error: string
  message: string
  details?: unknown
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  const statusCode = ERROR_CATALOG[code].status
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(details === undefined ? {} : { details }) }
}

/** 503s a client cures by waiting: they carry Retry-After so clients back off instead of hammering. */
const RETRY_LATER = new Set<ErrorCode>(['AUDITQ_STORE_UNAVAILABLE', 'AUDITQ_QUEUE_UNAVAILABLE', 'AUDITQ_ACCESS_UNRECORDED'])

export interface ErrorHandlerOptions {
  bodyLimitBytes: number
  /** Seconds in Retry-After on a 503 that a retry can cure. */
  retryAfterSeconds: number
  /**
   * True for a store error that says the store could not answer now (unreachable, no pool
   * connection within its timeout, a restart), as the store's own retry logic classifies it. A
   * read route that hits one answers 503 AUDITQ_STORE_UNAVAILABLE rather than 500.
   */
  isStoreUnavailable?: (error: unknown) => boolean
}

/** Every error leaves as `ErrorBody`; unexpected ones are logged in full and reach the client without internals. */
export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions): void {
  const tooLarge = (contentLength: string | undefined) =>
    `request body ${contentLength ? `of ${contentLength} bytes` : `(chunked, more than ${options.bodyLimitBytes} bytes read)`} is over the ${options.bodyLimitBytes}-byte limit; send fewer events per request`
  app.setErrorHandler((error: FastifyError | AuditqError | Error, request, reply) => {
    if (!(error instanceof AuditqError) && options.isStoreUnavailable?.(error)) {
      // Logged in full (the driver's message names the cause); the client gets the catalog code.
      error = new AuditqError('AUDITQ_STORE_UNAVAILABLE', 'the store could not answer (unreachable, or every connection busy); retry later', { cause: error })
    }
    if (error instanceof AuditqError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed')
      // Refusals raised where the reply is out of reach (the key resolver) still tell the client when to come back.
      const retryAfter = (error.details as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds
      if (typeof retryAfter === 'number' && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retryAfter))
      if (RETRY_LATER.has(error.code) && !reply.hasHeader('retry-after')) reply.header('retry-after', String(options.retryAfterSeconds))
      return reply.status(error.statusCode).send(errorBody(error.code, error.message, error.details))
    }
    const fastifyCode = 'code' in error && typeof error.code === 'string' ? FASTIFY_CODES[error.code] : undefined
    if (fastifyCode === 'AUDITQ_BODY_TOO_LARGE') {
      return reply.status(413).send(errorBody(fastifyCode, tooLarge(request.headers['content-length'])))
    }
    if (fastifyCode) {
      return reply.status(ERROR_CATALOG[fastifyCode].status).send(errorBody(fastifyCode, error.message))
    }
    // JSON syntax errors from the body parser carry statusCode 400 and no FST code. A SyntaxError
    // without that status was thrown by our own code (say, parsing a stored value): a 500 whose
    // message stays in the log, never a 400 quoting the text it failed on.
    const status = (error as FastifyError).statusCode
    if (status === 400) {
      return reply.status(400).send(errorBody('AUDITQ_BAD_REQUEST', `request body is not valid JSON: ${error.message}`))
    }
    if (status === 413) return reply.status(413).send(errorBody('AUDITQ_BODY_TOO_LARGE', tooLarge(request.headers['content-length'])))
    request.log.error({ err: error }, 'unexpected error')
    return reply.status(500).send(errorBody('AUDITQ_INTERNAL', 'internal error; see the server log for request ' + request.id))
  })
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('AUDITQ_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`))
  })
}
