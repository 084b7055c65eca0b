import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from '../config.js'
import { dashboardRoutes } from '../dashboard/routes.js'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Logger } from '../util/logger.js'
import { errorBody, installErrorHandler } from './error-handler.js'
import { ingestRoutes } from './ingest.js'
import { integrityRoutes } from './integrity.js'
import { monitoringRoutes, type MonitoringOptions } from './monitoring.js'
import { startMonitoring } from '../observability/index.js'
import { installIngestMetrics } from '../observability/http-metrics.js'
import type { ServiceMetrics } from '../observability/metrics.js'
import { installAccessControl, OPEN_PRINCIPAL, type PrincipalResolver } from './principal.js'
import { registerNdjsonParser } from './ndjson.js'
import { installRateLimit, limitFailedAuth } from './rate-limit.js'
import { installSecurityStats } from './security-stats.js'
import { queryRoutes } from './query.js'
import { reportRoutes } from './reports.js'

export interface ServerDependencies {
  config: Config
  audit: AuditLogger
  logger: Logger
  /** Queue mode: live queue state for health. */
  queueStatus?: () => Promise<QueueStatus>
  /** Who a request comes from. Default: everyone may do everything (the open loopback mode). */
  resolvePrincipal?: PrincipalResolver
  /** Prometheus metrics the SDK logger already feeds (built before it); a fresh set otherwise. */
  metrics?: ServiceMetrics
  /** Queue mode: acknowledges recorded Redis losses (POST /api/v1/monitoring/redis-losses/ack). */
  acknowledgeRedisLosses?: MonitoringOptions['acknowledgeRedisLosses']
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/

/** Builds the HTTP service without listening, so tests can `inject` and the CLI can `listen`. */
export async function buildServer({ config, audit, logger, queueStatus, resolvePrincipal, metrics, acknowledgeRedisLosses }: ServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger at runtime; the cast keeps the instance's default generics.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    // Honour a caller's X-Request-Id only when it is short and plain; otherwise mint one.
    genReqId: (request) => {
      const header = request.headers['x-request-id']
      return typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID()
    },
    // Router-level refusals (a malformed or over-long path parameter) get the catalog body too.
    frameworkErrors: (error, request, reply) => {
      // The hook's generic reply type is route-bound; this handler answers before any route.
      const plain = reply as unknown as FastifyReply
      plain.header('x-request-id', request.id)
      const message = `the request URL is malformed: ${error.message.slice(0, 200)}`
      plain.status(400).send(errorBody('AUDITQ_BAD_REQUEST', message, [{ field: '(url)', rule: 'url', message }]))
    },
    // Node's HTTP parser refuses some requests (a head over 16 KiB, bad syntax) before fastify
    // routes them; answer those with the catalog body as well, then close the socket.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return socket.destroy()
      const tooLarge = (error as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW'
      const body = tooLarge
        ? errorBody('AUDITQ_HEADERS_TOO_LARGE', 'request headers are over the 16 KiB limit')
        : errorBody('AUDITQ_BAD_REQUEST', 'malformed HTTP request')
      const json = JSON.stringify(body)
      socket.end(`HTTP/1.1 ${body.statusCode} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`)
    },
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  installErrorHandler(app, {
    bodyLimitBytes: config.http.bodyLimitBytes,
    retryAfterSeconds: config.http.unavailableRetryAfterSeconds,
    isStoreUnavailable: (error) => audit.store.classifyError(error) === 'transient',
  })
  // Before access control: an address that keeps failing authentication is refused before its key is looked up.
  const failedAuth = { perSecond: config.security.failedAuthPerSecond, burst: config.security.failedAuthBurst }
  installAccessControl(app, limitFailedAuth(app, resolvePrincipal ?? (() => OPEN_PRINCIPAL), failedAuth))
  installSecurityStats(app)
  installRateLimit(app, { perSecond: config.security.rateLimitPerSecond, burst: config.security.rateLimitBurst })
  registerNdjsonParser(app, config.http.maxNdjsonLineBytes)
  await app.register(ingestRoutes, { audit, maxEventsPerRequest: config.http.maxEventsPerRequest })
  await app.register(queryRoutes, {
    store: audit.store,
    defaultLimit: config.http.defaultQueryLimit,
    maxLimit: config.http.maxQueryLimit,
  })
  await app.register(integrityRoutes, { store: audit.store })
  await app.register(reportRoutes, { store: audit.store, limits: config.reports })
  const monitoring = await startMonitoring({ config, audit, logger, ...(queueStatus ? { queueStatus } : {}), ...(metrics ? { metrics } : {}) })
  app.addHook('onClose', () => monitoring.stop())
  installIngestMetrics(app, monitoring.metrics)
  monitoring.metrics.attachSecurity(() => app.securityStats())
  await app.register(monitoringRoutes, { store: audit.store, sampler: monitoring.sampler, metrics: monitoring.metrics, healthFailFrom: config.monitoring.healthFailFrom, ...(acknowledgeRedisLosses ? { acknowledgeRedisLosses } : {}) })
  // GET / answers this index to API clients and the dashboard to browsers (src/dashboard/routes.ts).
  const apiIndex = {
    name: 'auditq',
    endpoints: [
      'GET /dashboard (or GET / from a browser): the live dashboard',
      'POST /v1/events',
      'GET /v1/events',
      'GET /v1/events/:id',
      'GET /v1/events/export?format=ndjson|csv',
      'GET /v1/integrity?tenant_id=&from=&to=',
      'GET /v1/reports?period=daily|weekly|monthly&date=YYYY-MM-DD&format=json|csv|html',
      'GET /api/v1/monitoring/health',
      'GET /api/v1/monitoring/audit-metrics',
      'GET /api/v1/monitoring/history',
      'GET /metrics',
    ],
  }
  await app.register(dashboardRoutes, { apiIndex })
  return app
}
