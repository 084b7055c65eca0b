import cluster from 'node:cluster'
import { hostname } from 'node:os'
import type { Command } from 'commander'
import { AggregatorRegistry } from 'prom-client'
import { AuditqError } from '../errors.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { startMaintenance } from '../retention/scheduler.js'
import { BatchMetrics, newRegistry } from '../observability/metrics.js'
import { serveMetrics } from '../observability/metrics-server.js'
import { openStore } from '../store/open-store.js'
import { createLogger, type Logger } from '../util/logger.js'
import { startWorkerRuntime } from '../worker/runtime.js'
import { commandConfig, storeLocation } from './context.js'
import { connectQueueRedis, withTimeout } from './queue-setup.js'
import { StartupResources } from './startup.js'

/** Part of the shutdown deadline kept for closing the store after the drain. */
const STORE_CLOSE_RESERVE_MS = 1_000

/** A crashed worker process is restarted, but not faster than this, so a crash loop cannot spin. */
const RESPAWN_DELAY_MS = 1_000

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('drain the Redis queue into the store (queue mode); several processes share the work')
    .option('--processes <n>', 'worker processes on this host (node:cluster)', '1')
    .option('--metrics-port <port>', 'serve Prometheus GET /metrics on this port (with --processes: one port, summed over the processes)')
    .action(async (options: { processes: string; metricsPort?: string }, command: Command) => {
      const config = commandConfig(command)
      if (!config.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'auditq worker needs AUDITQ_REDIS_URL (or --redis-url)')
      const processes = Number(options.processes)
      if (!Number.isInteger(processes) || processes < 1 || processes > 64) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', '--processes must be an integer from 1 to 64')
      }
      const metricsPort = options.metricsPort === undefined ? undefined : Number(options.metricsPort)
      if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535)) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', '--metrics-port must be an integer from 0 to 65535')
      }
      const logger = createLogger({ level: config.logLevel, name: 'auditq-worker', format: config.logFormat })
      if (processes > 1 && cluster.isPrimary) {
        // One scrape target per host: the primary asks every process for its registry over the
        // cluster IPC channel and sums them (prom-client's AggregatorRegistry).
        if (metricsPort !== undefined) await serveClusterMetrics(config.host, metricsPort, logger)
        return superviseWorkers(processes, logger)
      }
      // Slot numbers keep consumer names stable across restarts: a restarted slot reclaims its own pending entries first.
      const slot = process.env.AUDITQ_WORKER_SLOT ?? '0'
      const registry = newRegistry()
      const metrics = new BatchMetrics(registry)
      if (cluster.isWorker) {
        // Constructing one installs prom-client's IPC listener that answers the primary's requests.
        new AggregatorRegistry()
        AggregatorRegistry.setRegistries([registry])
      }
      // A start that fails (store unreachable, Redis refusing, a bad signing key) closes what it
      // opened and exits non-zero, instead of staying up holding its connections.
      const opened = new StartupResources(logger)
      await opened.run(async () => {
        if (!cluster.isWorker && metricsPort !== undefined) {
          const server = await serveMetrics({ host: config.host, port: metricsPort, logger, render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }) })
          opened.add('metrics server', () => server.close())
          logger.info({ metrics_url: server.url }, 'worker metrics listening')
        }
        await runWorker(config, logger, `${hostname()}-w${slot}`, metrics, opened)
      })
    })
}

async function serveClusterMetrics(host: string, port: number, logger: Logger): Promise<void> {
  const aggregator = new AggregatorRegistry()
  const server = await serveMetrics({ host, port, logger, render: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }) })
  logger.info({ metrics_url: server.url, aggregated: true }, 'worker metrics listening')
}

async function runWorker(config: ReturnType<typeof commandConfig>, logger: Logger, workerId: string, metrics: BatchMetrics, opened: StartupResources): Promise<void> {
  const { redis } = await connectQueueRedis(config, logger)
  opened.add('redis', () => redis.disconnect())
  const store = await openStore({ ...storeLocation(config), logger })
  opened.add('store', () => store.close())
  metrics.observeChainWrites(store)
  // Read before the runtime starts, so a bad key fails the start before anything is consumed.
  const signingKey = await loadSigningKey(config.integrity)
  const runtime = await startWorkerRuntime({ config, store, redis, logger, workerId, observeBatch: (report) => metrics.recordWorkerBatch(report), observeFailedAttempt: () => metrics.recordWorkerFailedAttempt(), observeRedisReset: (outcome) => metrics.recordRedisReset(outcome) })
  const maintenance = startMaintenance({ store, config, signingKey, logger })
  const stop = async (signal: string) => {
    // Not awaited: the drain owns the shutdown deadline, and an interrupted retention run is safe.
    void maintenance.stop()
    logger.info({ signal, worker_id: workerId }, 'stopping: no more reads, writing and acknowledging what is held')
    // The whole stop fits in worker.shutdownDeadlineMs: the drain gets all but a reserve for closing.
    const deadlineAt = Date.now() + config.worker.shutdownDeadlineMs
    const { drained } = await runtime.stop(Math.max(100, config.worker.shutdownDeadlineMs - STORE_CLOSE_RESERVE_MS))
    // A statement stuck on a locked table would hold pool.end() as long as the lock: bound it, then
    // exit regardless. Whatever was not acknowledged stays pending in Redis for another worker.
    const closed = await withTimeout(store.close().then(() => true), Math.max(100, deadlineAt - Date.now()))
    if (!closed) logger.warn('the store did not close in time (a statement is stuck); exiting anyway')
    redis.disconnect()
    logger.flush(() => process.exit(drained && closed ? 0 : 1))
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}

function superviseWorkers(processes: number, logger: Logger): void {
  let stopping = false
  const fork = (slot: number) => {
    const child = cluster.fork({ AUDITQ_WORKER_SLOT: String(slot) })
    child.on('exit', (code, signal) => {
      if (stopping) return
      logger.error({ slot, code, signal }, 'worker process died; restarting it')
      setTimeout(() => fork(slot), RESPAWN_DELAY_MS)
    })
  }
  for (let slot = 0; slot < processes; slot++) fork(slot)
  logger.info({ processes }, 'supervising queue worker processes')
  const stop = (signal: NodeJS.Signals) => {
    stopping = true
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill(signal)
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}
