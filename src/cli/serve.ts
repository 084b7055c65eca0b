import { hostname } from 'node:os'
import type { Command } from 'commander'
import type { Redis } from 'ioredis'
import { isLoopbackHost } from '../auth/loopback.js'
import { startServiceAccess } from '../auth/service-access.js'
import { AuditqError } from '../errors.js'
import { buildServer } from '../http/server.js'
import { newRegistry, ServiceMetrics } from '../observability/metrics.js'
import { queueStatusReader } from '../queue/queue-status.js'
import { acknowledgeLosses, queueKeys, RedisResetWatch, type DurabilityReport } from '../queue/redis-streams/index.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { startMaintenance } from '../retention/scheduler.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime, type WorkerRuntime } from '../worker/runtime.js'
import { commandConfig, storeLocation } from './context.js'
import { connectQueueRedis, queueModeOptions } from './queue-setup.js'
import { StartupResources } from './startup.js'

/** How long shutdown may take before the process exits anyway; in-flight commits normally take milliseconds. */
const SHUTDOWN_DEADLINE_MS = 15_000

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP service (ingest, query, export, health); in queue mode also a worker')
    .option('--host <host>', 'address to bind (default 127.0.0.1, env AUDITQ_HOST)')
    .option('--port <port>', 'port to listen on (default 3000, env AUDITQ_PORT)')
    .option('--no-worker', 'queue mode: run ingest only, no in-process worker')
    .option('--insecure', 'allow listening on a non-loopback address while no API key exists (every caller gets full access)')
    .action(async (options: { host?: string; port?: string; worker: boolean; insecure?: boolean }, command: Command) => {
      const config = commandConfig(command, {
        ...(options.host ? { host: options.host } : {}),
        ...(options.port ? { port: Number(options.port) } : {}),
      })
      const logger = createLogger({ level: config.logLevel, format: config.logFormat })
      // A start that fails (port in use, spill journal unwritable, bad signing key) closes what it
      // opened and exits non-zero, instead of printing the error and staying up holding connections.
      const opened = new StartupResources(logger)
      const { app, audit, access, queueRedis, maintenance, runtime } = await opened.run(async () => {
        let queueRedis: Redis | undefined
        let durability: DurabilityReport | undefined
        if (config.redisUrl) {
          ;({ redis: queueRedis, durability } = await connectQueueRedis(config, logger))
          const redis = queueRedis
          opened.add('redis', () => redis.disconnect())
        }
        // Built before the logger, so log() latency and group-commit batches reach the histograms.
        const metrics = new ServiceMetrics(newRegistry())
        const audit = await createAuditLogger({
          ...metrics.sdkHooks,
          ...storeLocation(config),
          defaultTenant: config.defaultTenant,
          groupCommit: config.groupCommit,
          redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation },
          logger,
          ...queueModeOptions(config),
        })
        opened.add('audit logger', () => audit.close())
        const access = await startServiceAccess(config, logger, { insecure: options.insecure === true })
        opened.add('key store', () => access.keys.close())
        // One watch for the health reading and the in-process worker, so a Redis reset is noticed,
        // logged and counted once per process.
        const resetWatch = queueRedis
          ? new RedisResetWatch({ redis: queueRedis, keys: queueKeys({ prefix: config.queue.prefix, queue: config.queue.name }), logger, source: `${hostname()}-${process.pid}`, onReset: (outcome) => metrics.recordRedisReset(outcome) })
          : undefined
        const app = await buildServer({ config, audit, logger, metrics, resolvePrincipal: access.resolver.resolve, ...(queueRedis ? { queueStatus: queueStatusReader(queueRedis, config, durability, resetWatch ? { resetWatch } : {}), acknowledgeRedisLosses: (ids) => acknowledgeLosses(queueRedis, queueKeys({ prefix: config.queue.prefix, queue: config.queue.name }), ids) } : {}) })
        opened.add('http server', () => app.close())
        const address = await app.listen({ host: config.host, port: config.port })
        // A name such as `localhost` passed the loopback check by name; what counts is where the socket
        // actually listens. An open service bound anywhere else (a hosts file mapping localhost to a
        // LAN address, say) shuts down rather than serve every tenant to the network.
        // (A string is a unix socket path: local by construction.)
        const exposed = app.addresses().flatMap((bound) => (typeof bound === 'string' || isLoopbackHost(bound.address) ? [] : [bound.address]))
        if (exposed.length > 0 && !options.insecure && (await access.resolver.isOpen())) {
          throw new AuditqError('AUDITQ_CONFIG', `refusing to run open (no API keys) on ${exposed.join(', ')}: ${config.host} resolved to a non-loopback address. Create a key, bind to 127.0.0.1, or pass --insecure`)
        }
        const maintenance = startMaintenance({ store: audit.store, config, signingKey: await loadSigningKey(config.integrity), logger })
        opened.add('maintenance', () => maintenance.stop())
        const mode = config.redisUrl ? (options.worker ? 'queue (ingest + worker)' : 'queue (ingest only)') : 'direct'
        logger.info({ address, mode, store: audit.store.kind, location: audit.store.description }, `auditq listening on ${address}`)
        // Started last, in the background, so a start that fails never consumed from the queue;
        // with Redis down at start the worker waits for it while ingest already listens (and spills).
        const runtime: { started?: WorkerRuntime } = {}
        if (queueRedis && options.worker) {
          // Named by host and port, so a restarted service reclaims its own pending entries at once.
          const workerId = `${hostname()}-serve-${config.port}`
          startWorkerRuntime({ config, store: audit.store, redis: queueRedis, logger, workerId, observeBatch: (report) => metrics.recordWorkerBatch(report), observeFailedAttempt: () => metrics.recordWorkerFailedAttempt(), ...(resetWatch ? { resetWatch } : {}) }).then(
            (started) => (runtime.started = started),
            (error: unknown) => logger.error({ err: error }, 'in-process queue worker failed to start'),
          )
        }
        return { app, audit, access, queueRedis, maintenance, runtime }
      })

      let stopping = false
      const stop = async (signal: string) => {
        if (stopping) return
        stopping = true
        logger.info({ signal }, 'shutting down: no new requests, flushing accepted events')
        const deadline = setTimeout(() => {
          logger.error('shutdown deadline passed; exiting with events possibly unflushed')
          process.exit(1)
        }, SHUTDOWN_DEADLINE_MS)
        deadline.unref()
        // Order matters: stop taking requests, then let the worker write what it holds (it needs
        // the store), then flush the producer and close the store.
        await app.close()
        // A retention run in progress finishes its current chunk (the shutdown deadline bounds it);
        // an interrupted run is safe: verify accepts a cut whose deletions are half done.
        await maintenance.stop()
        // A worker still waiting for Redis to come up has nothing to flush: do not wait for it.
        await runtime.started?.stop()
        await audit.close()
        await access.keys.close()
        queueRedis?.disconnect()
        logger.info('stopped')
        // Exit explicitly: a worker connection still reconnecting to a dead Redis would keep the loop alive.
        logger.flush(() => process.exit(0))
      }
      process.once('SIGINT', () => void stop('SIGINT'))
      process.once('SIGTERM', () => void stop('SIGTERM'))
    })
}
