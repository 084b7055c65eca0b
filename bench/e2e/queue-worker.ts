/**
 * The queue worker the way `auditq worker --processes N` runs it (node:cluster, one Redis stream
 * consumer and one PostgreSQL store per process, the same runtime), with one difference that only a
 * benchmark may have: `--chain off` opens the store with hash chaining off. Running both settings
 * through this one script makes the chain the only difference between the two (the same-run
 * baseline for the chain's cost in queue mode; BENCHMARKS.md, "Hash chain").
 *
 *   node dist-bench/bench/e2e/queue-worker.js --processes 2 --chain off   (configured by AUDITQ_* env)
 */
import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import { connectQueueRedis } from '../../src/service/queue-setup.js'
import { configFromEnv, loadConfig } from '../../src/config.js'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import { createLogger } from '../../src/util/logger.js'
import { startWorkerRuntime } from '../../src/worker/runtime.js'

const { values } = parseArgs({ options: { processes: { type: 'string', default: '1' }, chain: { type: 'string', default: 'on' } } })
const processes = Number(values.processes)

if (cluster.isPrimary && processes > 1) {
  for (let slot = 0; slot < processes; slot++) cluster.fork({ AUDITQ_WORKER_SLOT: String(slot) })
  const stop = (signal: NodeJS.Signals) => {
    for (const child of Object.values(cluster.workers ?? {})) child?.process.kill(signal)
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
} else {
  const config = loadConfig(configFromEnv(process.env))
  if (!config.databaseUrl) throw new Error('queue-worker needs AUDITQ_DATABASE_URL')
  const logger = createLogger({ level: config.logLevel, name: 'bench-queue-worker', format: config.logFormat })
  const { redis } = await connectQueueRedis(config, logger)
  const store = await createPostgresStore({
    connectionString: config.databaseUrl,
    ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    chain: values.chain !== 'off',
    logger,
  })
  await store.migrate()
  const workerId = `bench-w${process.env.AUDITQ_WORKER_SLOT ?? '0'}`
  const runtime = await startWorkerRuntime({ config, store, redis, logger, workerId, observeBatch: () => undefined, observeFailedAttempt: () => undefined })
  const stop = async () => {
    await runtime.stop(Math.max(100, config.worker.shutdownDeadlineMs - 1_000))
    await store.close()
    redis.disconnect()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}
