import cluster from 'node:cluster'
import { hostname } from 'node:os'
import type { Command } from 'commander'
import { AggregatorRegistry } from 'prom-client'
import { AuditqError } from '../errors.js'
import { newRegistry } from '../observability/metrics.js'
import { serveMetrics } from '../observability/metrics-server.js'
import { startService } from '../service/service.js'
import { createLogger, type Logger } from '../util/logger.js'
import { commandConfig } from './context.js'
import { exitAfterFatalStart, stopOnSignals } from './signals.js'

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
      if (cluster.isWorker) {
        // Constructing one installs prom-client's IPC listener that answers the primary's requests.
        new AggregatorRegistry()
        AggregatorRegistry.setRegistries([registry])
      }
      // A start that fails (store unreachable, Redis refusing, a bad signing key) has closed what it
      // opened; the process exits non-zero instead of staying up holding its connections.
      const service = await startService({
        role: 'worker',
        config,
        logger,
        workerId: `${hostname()}-w${slot}`,
        registry,
        ...(!cluster.isWorker && metricsPort !== undefined ? { metricsPort } : {}),
      }).catch(exitAfterFatalStart)
      stopOnSignals({ logger, service, deadlineMs: config.worker.shutdownDeadlineMs, message: 'stopping: no more reads, writing and acknowledging what is held' })
    })
}

async function serveClusterMetrics(host: string, port: number, logger: Logger): Promise<void> {
  const aggregator = new AggregatorRegistry()
  const server = await serveMetrics({ host, port, logger, render: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }) })
  logger.info({ metrics_url: server.url, aggregated: true }, 'worker metrics listening')
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
