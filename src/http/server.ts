import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from '../config.js'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Logger } from '../util/logger.js'
import { installErrorHandler } from './error-handler.js'
import { ingestRoutes } from './ingest.js'
import { monitoringRoutes } from './monitoring.js'
import { registerNdjsonParser } from './ndjson.js'
import { queryRoutes } from './query.js'

export interface ServerDependencies {
  config: Config
  audit: AuditLogger
  logger: Logger
  /** Queue mode: live queue state for health. */
  queueStatus?: () => Promise<QueueStatus>
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/

/** Builds the HTTP service without listening, so tests can `inject` and the CLI can `listen`. */
export async function buildServer({ config, audit, logger, queueStatus }: ServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger at runtime; the cast keeps the instance's default generics.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    // Honour a caller's X-Request-Id only when it is short and plain; otherwise mint one.
    genReqId: (request) => {
      const header = request.headers['x-request-id']
      return typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID()
    },
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  installErrorHandler(app, { bodyLimitBytes: config.http.bodyLimitBytes })
  registerNdjsonParser(app, config.http.maxNdjsonLineBytes)
  await app.register(ingestRoutes, { audit, maxEventsPerRequest: config.http.maxEventsPerRequest })
  await app.register(queryRoutes, {
    store: audit.store,
    defaultLimit: config.http.defaultQueryLimit,
    maxLimit: config.http.maxQueryLimit,
  })
  await app.register(monitoringRoutes, { store: audit.store, audit, pingTimeoutMs: 2_000, ...(queueStatus ? { queueStatus } : {}) })
  app.get('/', async () => ({
    name: 'auditq',
    endpoints: [
      'POST /v1/events',
      'GET /v1/events',
      'GET /v1/events/:id',
      'GET /v1/events/export?format=ndjson|csv',
      'GET /api/v1/monitoring/health',
    ],
  }))
  return app
}
