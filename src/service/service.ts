/**
 * The one place that starts and stops auditq as a long-running service. `auditq serve`,
 * `auditq worker` and `auditq streams run` (and tests, in-process) call `startService`; it opens
 * every component in one order and registers each one's stop with the lifecycle, which stops them
 * in the reverse order. The CLI keeps only flags, signals and exit codes.
 */
import { hostname } from 'node:os'
import type { FastifyInstance } from 'fastify'
import type { QueueRedis } from '../queue/redis-streams/connection.js'
import type { Registry } from 'prom-client'
import { isLoopbackHost } from '../auth/loopback.js'
import { startServiceAccess } from '../auth/service-access.js'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { buildServer } from '../http/server.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { startMonitoring } from '../observability/index.js'
import { BatchMetrics, newRegistry, ServiceMetrics } from '../observability/metrics.js'
import { serveMetrics } from '../observability/metrics-server.js'
import { queueStatusReader } from '../queue/queue-status.js'
import { acknowledgeShardLosses, configuredShards, knownShards, ShardedResetWatch, type DurabilityReport } from '../queue/redis-streams/index.js'
import { startMaintenance } from '../retention/scheduler.js'
import { shreddingFromConfig } from '../shred/from-config.js'
import { serviceTrail, type ServiceTrail } from '../access/service-trail.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { openStore, storeLocation } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { startWorkerRuntime, type WorkerRuntime } from '../worker/runtime.js'
import { streamHealthReader } from '../stream/health.js'
import { Lifecycle } from './lifecycle.js'
import { startStreams } from './streams-setup.js'
import { startStreamsProcess, type StreamsProcessOptions } from './streams-process.js'
import { startSearchBackfill } from './search-backfill.js'
import { connectQueueRedis, queueModeOptions } from './queue-setup.js'

/** How long closing what a failed start opened may take before the start's error is thrown anyway. */
const FAILED_START_STOP_MS = 5_000

/** Part of the worker's shutdown deadline kept for closing the store after the drain. */
const STORE_CLOSE_RESERVE_MS = 1_000

export interface ServeOptions {
  role: 'serve'
  config: Config
  logger: Logger
  /** Queue mode: also run a worker in this process (default true). */
  worker?: boolean
  /** Allow a non-loopback bind while no API key exists. */
  insecure?: boolean
}

export interface WorkerOptions {
  role: 'worker'
  config: Config
  logger: Logger
  /** Stable across restarts (host + slot), so a restarted worker reclaims its own pending entries at once. */
  workerId: string
  /** The registry worker metrics go to (a cluster's aggregator reads it); a fresh one by default. */
  registry?: Registry
  /** Serve GET /metrics on this port (0 = any free port). */
  metricsPort?: number
}

export type ServiceOptions = ServeOptions | WorkerOptions | StreamsProcessOptions

export interface RunningService {
  /** The HTTP service (`serve` only). */
  readonly app?: FastifyInstance
  /** Where HTTP (or, for a worker, /metrics) listens. */
  readonly address?: string
  readonly store: Store
  /** Components in start order, as registered (for logs and tests). */
  readonly components: string[]
  /**
   * Stops every component, newest first, within `deadlineMs` (serve: 15 s; worker:
   * `worker.shutdownDeadlineMs`). Resolves true when all stopped cleanly (a worker drained what it
   * held, the store closed) in time.
   */
  stop(options?: { deadlineMs?: number }): Promise<boolean>
}

/** How long `serve` may take to stop before its CLI exits anyway; in-flight commits normally take milliseconds. */
export const SERVE_STOP_DEADLINE_MS = 15_000

/**
 * Starts the service. A start that fails (port in use, spill journal unwritable, bad signing key,
 * store unreachable) stops what it already started and throws, so nothing is left holding
 * connections or consuming from the queue.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const lifecycle = new Lifecycle(options.logger)
  const started = await lifecycle.start(() => (options.role === 'serve' ? startServe(options, lifecycle) : options.role === 'worker' ? startWorker(options, lifecycle) : startStreamsProcess(options, lifecycle)), { deadlineMs: FAILED_START_STOP_MS })
  const defaultDeadline = options.role === 'worker' ? options.config.worker.shutdownDeadlineMs : SERVE_STOP_DEADLINE_MS
  return {
    ...started,
    components: lifecycle.names(),
    stop: (stopOptions = {}) => lifecycle.stop({ deadlineMs: stopOptions.deadlineMs ?? defaultDeadline, reason: 'shutdown' }),
  }
}

type Started = Pick<RunningService, 'app' | 'address' | 'store'>

async function connectRedis(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<{ redis: QueueRedis; durability: DurabilityReport | undefined }> {
  const connected = await connectQueueRedis(config, logger)
  lifecycle.add('redis', () => connected.redis.disconnect())
  return connected
}

async function startServe(options: ServeOptions, lifecycle: Lifecycle): Promise<Started> {
  const { config, logger } = options
  const runWorker = options.worker !== false
  const queue = config.redisUrl ? await connectRedis(config, logger, lifecycle) : undefined
  // Built before the logger, so log() latency and group-commit batches reach the histograms.
  const metrics = new ServiceMetrics(newRegistry())
  // Read before the store opens: shredding configured without a usable master key fails the start.
  const shredding = shreddingFromConfig(config)
  // The trail records the queue overflowing; it is made once the store is open, and nothing can
  // overflow before the service listens.
  let trail: ServiceTrail | undefined
  const audit = await createAuditLogger({
    observeQueueDivert: (divert) => trail?.queueDiverted(divert),
    ...(shredding ? { shredding } : {}),
    ...metrics.sdkHooks,
    ...storeLocation(config),
    defaultTenant: config.defaultTenant,
    groupCommit: config.groupCommit,
    redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation },
    logger,
    ...queueModeOptions(config),
  })
  lifecycle.add('audit logger', () => audit.close())
  const store = audit.store
  // Stopped after http (reverse order), before the store closes: the stop is recorded and open aggregates written.
  trail = serviceTrail({ role: 'serve', store, config, logger })
  const serveTrail = trail
  lifecycle.add('access trail', () => serveTrail.stop())
  // The key store is the event store's: closed with it when the audit logger closes, after http.
  const access = await startServiceAccess(store.keys, config, logger, { insecure: options.insecure === true })

  const shards = configuredShards(config.queue)
  // One watch for the health reading and the in-process worker, so a Redis reset is noticed,
  // logged and counted once per process.
  const resetWatch = queue
    ? new ShardedResetWatch({ redis: queue.redis, shards, logger, source: `${hostname()}-${process.pid}`, onReset: (outcome) => metrics.recordRedisReset(outcome) })
    : undefined
  const queueStatus = queue ? queueStatusReader(queue.redis, config, queue.durability, resetWatch ? { resetWatch } : {}) : undefined
  // Before monitoring, which shows its count; stopped before the store closes (reverse order).
  const searchBackfill = startSearchBackfill({ store, settings: config.search, logger, registry: metrics.registry })
  lifecycle.add('search backfill', () => searchBackfill.stop())
  const monitoring = await startMonitoring({ config, audit, store, logger, metrics, accessTrail: () => serveTrail.stats(), searchIndex: () => searchBackfill.status(), ...(queueStatus ? { queueStatus } : {}), ...(store.streams ? { streamHealth: streamHealthReader(store.streams) } : {}) })
  lifecycle.add('monitoring', () => monitoring.stop())

  const app = await buildServer({
    config,
    audit,
    store,
    logger,
    monitoring,
    resolvePrincipal: access.resolver.resolve,
    accessRecorder: serveTrail.recorder,
    ...(queue ? { acknowledgeRedisLosses: async (ids: string[] | 'all') => acknowledgeShardLosses(queue.redis, await knownShards(queue.redis, shards), ids) } : {}),
  })
  lifecycle.add('http', () => app.close())
  const address = await app.listen({ host: config.host, port: config.port })
  // A name such as `localhost` passed the loopback check by name; what counts is where the socket
  // actually listens. An open service bound anywhere else (a hosts file mapping localhost to a
  // LAN address, say) shuts down rather than serve every tenant to the network.
  // (A string is a unix socket path: local by construction.)
  const exposed = app.addresses().flatMap((bound) => (typeof bound === 'string' || isLoopbackHost(bound.address) ? [] : [bound.address]))
  if (exposed.length > 0 && !options.insecure && (await access.resolver.isOpen())) {
    throw new AuditqError('AUDITQ_CONFIG', `refusing to run open (no API keys) on ${exposed.join(', ')}: ${config.host} resolved to a non-loopback address. Create a key, bind to 127.0.0.1, or pass --insecure`)
  }
  // A retention run in progress finishes its current chunk on stop (the deadline bounds it); an
  // interrupted run is safe: verify accepts a cut whose deletions are half done.
  const signingKey = await loadSigningKey(config.integrity)
  // Retention deletes only what every archive stream has confirmed (archive before delete).
  const maintenance = startMaintenance({ store, config, signingKey, logger, recorder: serveTrail.recorder, ...(store.streams ? { archive: store.streams } : {}) })
  lifecycle.add('maintenance', () => maintenance.stop())
  startStreams({ config, store, logger, registry: metrics.registry, role: 'serve', lifecycle, signingKey })
  const mode = queue ? (runWorker ? 'queue (ingest + worker)' : 'queue (ingest only)') : 'direct'
  logger.info({ address, mode, store: store.kind, location: store.description }, `auditq listening on ${address}`)
  // Not waited for, as in the worker: a store that refuses writes would hold the start forever,
  // and the CLI installs its signal handlers only once the start has returned.
  void serveTrail.started({ address, mode, store: store.kind })

  if (queue && runWorker) {
    // Started last and in the background: a start that fails never consumed from the queue, and with
    // Redis down at start the worker waits for it while ingest already listens (and spills).
    const runtime: { started?: WorkerRuntime } = {}
    // Named by host and port, so a restarted service reclaims its own pending entries at once.
    const workerId = `${hostname()}-serve-${config.port}`
    startWorkerRuntime({
      config,
      store,
      redis: queue.redis,
      logger,
      workerId,
      observeBatch: (report) => metrics.recordWorkerBatch(report),
      observeFailedAttempt: () => metrics.recordWorkerFailedAttempt(),
      observeStorePause: (state, id) => serveTrail.storePause(state, id),
      ...(resetWatch ? { resetWatch } : {}),
    }).then(
      (worker) => (runtime.started = worker),
      (error: unknown) => logger.error({ err: error }, 'in-process queue worker failed to start'),
    )
    // A worker still waiting for Redis to come up has nothing to flush: nothing to wait for.
    lifecycle.add('worker', async () => (runtime.started ? (await runtime.started.stop()).drained : true))
  }
  return { app, address, store }
}

async function startWorker(options: WorkerOptions, lifecycle: Lifecycle): Promise<Started> {
  const { config, logger, workerId } = options
  if (!config.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'auditq worker needs AUDITQ_REDIS_URL (or --redis-url)')
  const registry = options.registry ?? newRegistry()
  const metrics = new BatchMetrics(registry)
  let address: string | undefined
  if (options.metricsPort !== undefined) {
    const server = await serveMetrics({ host: config.host, port: options.metricsPort, logger, render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }) })
    lifecycle.add('metrics server', () => server.close())
    address = server.url
    logger.info({ metrics_url: server.url }, 'worker metrics listening')
  }
  const { redis } = await connectRedis(config, logger, lifecycle)
  const store = await openStore({ ...storeLocation(config), logger })
  lifecycle.add('store', () => store.close())
  const trail = serviceTrail({ role: 'worker', store, config, logger })
  lifecycle.add('access trail', () => trail.stop())
  metrics.observeChainWrites(store)
  metrics.observeReadReplica(store)
  // Read before the runtime starts, so a bad key fails the start before anything is consumed.
  const signingKey = await loadSigningKey(config.integrity)
  const runtime = await startWorkerRuntime({
    config,
    store,
    redis,
    logger,
    workerId,
    observeBatch: (report) => metrics.recordWorkerBatch(report),
    observeFailedAttempt: () => metrics.recordWorkerFailedAttempt(),
    observeRedisReset: (outcome) => metrics.recordRedisReset(outcome),
    observeStorePause: (state, id) => trail.storePause(state, id),
  })
  // The drain gets the shutdown deadline but a reserve for closing the store; whatever it could not
  // write and acknowledge stays pending in Redis for another worker.
  lifecycle.add('worker', async () => (await runtime.stop(Math.max(100, config.worker.shutdownDeadlineMs - STORE_CLOSE_RESERVE_MS))).drained)
  const maintenance = startMaintenance({ store, config, signingKey, logger, recorder: trail.recorder, ...(store.streams ? { archive: store.streams } : {}) })
  // Not waited for: with the store hanging (a lock, an outage) the start would never finish, and
  // the CLI installs its signal handlers only once it has; a worker must stay stoppable.
  void trail.started({ worker_id: workerId })
  // Not waited for: the drain owns the shutdown deadline, and an interrupted retention run is safe.
  lifecycle.add('maintenance', () => void maintenance.stop())
  startStreams({ config, store, logger, registry, role: 'worker', lifecycle, signingKey })
  return { store, ...(address ? { address } : {}) }
}
