import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from '../config.js'
import { dashboardRoutes } from '../dashboard/routes.js'
import { completenessRoutes } from './completeness.js'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { errorBody, installErrorHandler } from './error-handler.js'
import { ingestRoutes } from './ingest.js'
import { integrityRoutes } from './integrity.js'
import { proofRoutes } from './proofs.js'
import { monitoringRoutes, type MonitoringOptions } from './monitoring.js'
import { startMonitoring, type Monitoring } from '../observability/index.js'
import { installIngestMetrics } from '../observability/http-metrics.js'
import type { ServiceMetrics } from '../observability/metrics.js'
import { OPEN_PRINCIPAL } from '../auth/principal.js'
import { installAccessControl, type PrincipalResolver } from './principal.js'
import { registerJsonParser } from './json-depth.js'
import { registerNdjsonParser } from './ndjson.js'
import { installRateLimit, limitFailedAuth } from './rate-limit.js'
import { installSecurityStats, type SecurityCounters } from './security-stats.js'
import { installBodyBudget } from './body-budget.js'
import { queryRoutes } from './query.js'
import { installAccessTrail } from './access-trail.js'
import { retentionRuleRoutes } from './retention-rules.js'
import { AccessRecorder } from '../access/recorder.js'
import { reportRoutes } from './reports.js'
import { feedRoutes } from './feed.js'
import { packageVersion } from '../version.js'
import { installApiContract } from './contract/install.js'
import { viewerRoutes } from './viewer.js'
import { streamRoutes } from './streams.js'
import { streamAdminFor } from '../stream/admin.js'
import { StoreFeed } from '../stream/store-feed.js'
import { streamFormatters } from '../stream/format.js'

export interface ServerDependencies {
  config: Config
  /** Takes ingested events. */
  audit: AuditLogger
  /** What the read routes (query, export, integrity, reports, health) read; the logger's store when not given. */
  store?: Store
  logger: Logger
  /**
   * The service's monitoring, already started (and stopped) by its owner, `startService`. Without
   * one the server starts its own and stops it when it closes (tests, embedding the server alone).
   */
  monitoring?: Monitoring
  /** Queue mode, without `monitoring`: live queue state for health. */
  queueStatus?: () => Promise<QueueStatus>
  /** Who a request comes from. Default: everyone may do everything (the open loopback mode). */
  resolvePrincipal?: PrincipalResolver
  /** Without `monitoring`: Prometheus metrics the SDK logger already feeds (built before it); a fresh set otherwise. */
  metrics?: ServiceMetrics
  /**
   * Records access to the trail (`auditq.*` events). Without one the server records through its
   * own, over `store`, and flushes it when it closes.
   */
  accessRecorder?: AccessRecorder
  /** Queue mode: acknowledges recorded Redis losses (POST /api/v1/monitoring/redis-losses/ack). */
  acknowledgeRedisLosses?: MonitoringOptions['acknowledgeRedisLosses']
}

function ownAccessRecorder(app: FastifyInstance, store: Store, config: Config, logger: Logger): AccessRecorder {
  const recorder = new AccessRecorder({
    write: (events) => store.insertBatch(events),
    isStoreUnavailable: (error) => store.classifyError(error) === 'transient',
    windowMs: config.access.aggregateWindowMs,
    systemTenant: config.access.systemTenant,
    logger,
  })
  app.addHook('onClose', () => recorder.close())
  return recorder
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/

/** Builds the HTTP service without listening, so tests can `inject` and the CLI can `listen`. */
export async function buildServer(dependencies: ServerDependencies): Promise<FastifyInstance> {
  const { config, audit, logger, queueStatus, resolvePrincipal, metrics, acknowledgeRedisLosses } = dependencies
  const store = dependencies.store ?? audit.store
  // Assigned once the instance exists; the client-error handler below runs only after that.
  let counters: SecurityCounters | undefined
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger at runtime; the cast keeps the instance's default generics.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.http.bodyLimitBytes,
    // X-Forwarded-For is believed only from the listed proxies, so request.ip (failed-auth lockout,
    // open-mode rate limit, logs) is the client behind them; from anyone else it is ignored.
    trustProxy: config.security.trustedProxies.length > 0 ? [...config.security.trustedProxies] : false,
    // A deadline for a request's headers and body, not an idle timer: a client dripping a byte at a
    // time resets an idle timer forever. Node checks deadlines every connectionsCheckingInterval
    // (30 s by default, which would double a 30 s timeout), so that is scaled to the timeout.
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(config.http.requestTimeoutMs / 10))),
      headersTimeout: Math.min(60_000, config.http.requestTimeoutMs),
    },
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
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        counters?.countRequestTimeout()
        logger.warn({ remoteAddress: socket.remoteAddress, requestTimeoutMs: config.http.requestTimeoutMs }, 'request did not arrive within the request timeout; answered 408 and closed the connection')
      }
      // A response already under way (its head sent) must not get a second one written into it.
      const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
      if (!socket.writable || answering?.headersSent) return socket.destroy()
      const body =
        code === 'HPE_HEADER_OVERFLOW'
          ? errorBody('AUDITQ_HEADERS_TOO_LARGE', 'request headers are over the 16 KiB limit')
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? errorBody('AUDITQ_REQUEST_TIMEOUT', `the request's headers and body did not arrive within ${config.http.requestTimeoutMs} ms`)
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
    isStoreUnavailable: (error) => store.classifyError(error) === 'transient',
  })
  // Failed authentications are counted per client address and key id; a valid key always passes.
  const failedAuth = { perSecond: config.security.failedAuthPerSecond, burst: config.security.failedAuthBurst }
  installAccessControl(app, limitFailedAuth(resolvePrincipal ?? (() => OPEN_PRINCIPAL), failedAuth))
  // Before any route: it records every route registered from here on, for /openapi.json.
  installApiContract(app)
  counters = installSecurityStats(app)
  installBodyBudget(app, { maxBytesInFlight: config.http.maxBodyBytesInFlight, bodyLimitBytes: config.http.bodyLimitBytes, onRefused: counters.countOverloaded })
  installRateLimit(app, { perSecond: config.security.rateLimitPerSecond, burst: config.security.rateLimitBurst })
  const recorder = dependencies.accessRecorder ?? ownAccessRecorder(app, store, config, logger)
  installAccessTrail(app, recorder)
  registerJsonParser(app, { maxDepth: config.http.maxJsonDepth })
  registerNdjsonParser(app, { maxLineBytes: config.http.maxNdjsonLineBytes, maxDepth: config.http.maxJsonDepth })
  await app.register(ingestRoutes, { audit, maxEventsPerRequest: config.http.maxEventsPerRequest })
  await app.register(queryRoutes, {
    store,
    defaultLimit: config.http.defaultQueryLimit,
    maxLimit: config.http.maxQueryLimit,
    exports: config.reads,
  })
  await app.register(integrityRoutes, { store, limits: config.reads })
  await app.register(completenessRoutes, { store, settings: config.completeness })
  await app.register(proofRoutes, { store })
  await app.register(reportRoutes, { store, limits: config.reports })
  await app.register(feedRoutes, { store, limits: config.feed, systemTenant: config.access.systemTenant, productVersion: packageVersion() })
  await app.register(viewerRoutes, { store, viewer: config.viewer, defaultLimit: 50, maxLimit: 200, exports: config.reads })
  if (store.retentionRules) await app.register(retentionRuleRoutes, { rules: store.retentionRules, recorder })
  if (store.streams) {
    const formatters = streamFormatters({ ocsfClassMap: config.feed.ocsfClassMap, productVersion: packageVersion() })
    await app.register(streamRoutes, { admin: streamAdminFor(store.streams, { formatters, ...(store.feed ? { feed: new StoreFeed(store.feed) } : {}) }) })
  }
  let monitoring = dependencies.monitoring
  if (!monitoring) {
    const own = await startMonitoring({ config, audit, store, logger, accessTrail: () => recorder.stats(), ...(queueStatus ? { queueStatus } : {}), ...(metrics ? { metrics } : {}) })
    app.addHook('onClose', () => own.stop())
    monitoring = own
  }
  installIngestMetrics(app, monitoring.metrics)
  monitoring.metrics.attachSecurity(() => app.securityStats())
  await app.register(monitoringRoutes, { store, sampler: monitoring.sampler, metrics: monitoring.metrics, healthFailFrom: config.monitoring.healthFailFrom, ...(acknowledgeRedisLosses ? { acknowledgeRedisLosses } : {}) })
  // GET / answers this index to API clients and the dashboard to browsers (src/dashboard/routes.ts).
  const apiIndex = {
    name: 'auditq',
    endpoints: [
      'GET /dashboard (or GET / from a browser): the live dashboard',
      'POST /v1/events',
      'GET /v1/events',
      'GET /v1/events/:id',
      'GET /v1/events/export?format=ndjson|csv',
      'GET /v1/events/export?proof=true',
      'GET /v1/events/:id/proof',
      'GET /v1/integrity?tenant_id=&from=&to=',
      'GET /v1/completeness?producer_id=&tenant_id=&since=',
      'GET /v1/reports?period=daily|weekly|monthly&date=YYYY-MM-DD&format=json|csv|html',
      'GET /v1/feed?after=&limit=&wait=&format=json|ocsf',
      'GET /v1/feed/stream?after=&format=json|ocsf (Server-Sent Events)',
      'POST /v1/viewer-tokens',
      'GET /v1/display-templates',
      'GET /viewer.js, GET /viewer: the embeddable viewer (viewer token)',
      'POST /v1/holds, GET /v1/holds, POST /v1/holds/:id/release (admin)',
      'GET /v1/retention/tenants, PUT|DELETE /v1/retention/tenants/:tenant (admin)',
      'GET|POST /v1/streams, GET|DELETE /v1/streams/:name, POST /v1/streams/:name/pause|resume|replay',
      'GET /api/v1/monitoring/health',
      'GET /api/v1/monitoring/audit-metrics',
      'GET /api/v1/monitoring/history',
      'GET /metrics',
      'GET /openapi.json: this API as an OpenAPI 3.1 document',
    ],
  }
  await app.register(dashboardRoutes, { apiIndex })
  return app
}
