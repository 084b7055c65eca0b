/**
 * The systems under test, each set up on a fresh fixture and torn down after: auditq in direct and
 * queue mode, and the designs teams would otherwise pick. A system exposes one `log()`
 * call; the driver decides how hard to call it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { createAuditLogger, type AuditLogger } from '../../src/sdk/audit-logger.js'
import { QueueMonitor, queueKeys } from '../../src/queue/redis-streams/index.js'
import { validateEvent } from '../../src/event/validate.js'
import type { AuditEvent } from '../../src/event/types.js'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import { sampleEvent } from '../event.js'
import type { LogCall } from './drive.js'
import type { BenchTarget, Fixture } from './fixture.js'
import { spawnNode, waitFor, type Spawned } from './processes.js'

/** dist-bench/bench/e2e/ → the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const AUDITQ_CLI = join(REPO_ROOT, 'dist', 'cli', 'index.js')
const HERE = fileURLToPath(new URL('.', import.meta.url))

export interface System {
  log: LogCall
  /** True when `log()` resolves only after the commit (direct mode): the end is the last answer. */
  acknowledgesCommit: boolean
  workerPids(): number[]
  /** A message if a worker process died while it should be running. */
  deadWorker(): string | undefined
  /** Figures the system reports about itself (spilled, dropped…), checked and kept in the results. */
  figures(): Record<string, number>
  /** Figures the workers publish (auditq: batches and their average time, from the heartbeats). */
  workerFigures?(events: number): Promise<Record<string, number>>
  /** Closes the producer side and stops the workers (after the measurement). */
  close(): Promise<void>
}

export interface SystemContext {
  target: BenchTarget
  fixture: Fixture
  /** Makes request ids unique to this scenario. */
  tag: string
  workers: number
  /** Queue cap (auditq) and MAX_QUEUE_LENGTH (Redis-list design): the same for both. */
  capEvents: number
  /** `--cpu-prof` flags for spawned workers, when profiling. */
  workerNodeArgs: string[]
}

function validated(i: number, tag: string): AuditEvent {
  const result = validateEvent(sampleEvent(i, tag), { receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

/**
 * Starts `ctx.workers` baseline worker processes of `script` (arguments per worker from `args`)
 * and waits until each prints `ready`; on failure stops them, runs `undo`, and throws.
 */
async function startWorkers(ctx: SystemContext, script: string, args: (n: number) => string[], undo: () => Promise<void> | void): Promise<Spawned[]> {
  const spawned = Array.from({ length: ctx.workers }, (_, n) => spawnNode(join(HERE, script), args(n), { nodeArgs: ctx.workerNodeArgs }))
  try {
    await Promise.all(spawned.map((s) => s.waitForLine(/^ready$/, 30_000)))
  } catch (error) {
    await undo()
    await stopAll(spawned)
    throw error
  }
  return spawned
}

async function stopAll(spawned: Spawned[]): Promise<void> {
  await Promise.all(spawned.map((s) => s.stop()))
}

function deadOf(spawned: Spawned[], what: string): string | undefined {
  const dead = spawned.find((s) => s.exited())
  return dead ? `${what} (pid ${dead.pid}) exited during the run:\n${dead.tail()}` : undefined
}

export async function auditqDirect(ctx: SystemContext): Promise<System> {
  const audit = await createAuditLogger({ databaseUrl: ctx.target.databaseUrl, databaseSchema: ctx.fixture.schema })
  return {
    log: (i) => audit.log(sampleEvent(i, ctx.tag)),
    acknowledgesCommit: true,
    workerPids: () => [],
    deadWorker: () => undefined,
    figures: () => pick(audit.stats(), ['failed', 'duplicates', 'commits']),
    close: () => audit.close(),
  }
}

/** `auditq worker --processes N` as its own process tree, and the SDK in queue mode in this process. */
export function auditqQueue(ctx: SystemContext): Promise<System> {
  return queueSystem(ctx, AUDITQ_CLI, ['worker', '--processes', String(ctx.workers)])
}

/** The same with the benchmark's worker script (queue-worker.ts), chaining on or off: the chain's same-run baseline. */
export function auditqQueueChain(chain: 'on' | 'off'): (ctx: SystemContext) => Promise<System> {
  return (ctx) => queueSystem(ctx, join(HERE, 'queue-worker.js'), ['--processes', String(ctx.workers), '--chain', chain])
}

async function queueSystem(ctx: SystemContext, workerScript: string, workerArgs: string[]): Promise<System> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-'))
  const queueName = 'q'
  const env = {
    AUDITQ_DATABASE_URL: ctx.target.databaseUrl,
    AUDITQ_DATABASE_SCHEMA: ctx.fixture.schema,
    AUDITQ_REDIS_URL: ctx.target.redisUrl,
    AUDITQ_QUEUE_PREFIX: ctx.fixture.redisPrefix,
    AUDITQ_QUEUE_NAME: queueName,
    AUDITQ_QUEUE_CAP: String(ctx.capEvents),
    AUDITQ_DATA_DIR: dataDir,
    AUDITQ_LOG_LEVEL: 'warn',
  }
  const workers = spawnNode(workerScript, workerArgs, { env, nodeArgs: ctx.workerNodeArgs })
  let audit: AuditLogger | undefined
  try {
    // Ready = every worker process has published its first heartbeat.
    const redis = new Redis(ctx.target.redisUrl)
    try {
      const beats = `${ctx.fixture.redisPrefix}:{${queueName}}:workers`
      await waitFor(async () => {
        if (workers.exited()) throw new Error(`auditq worker exited at start:\n${workers.tail()}`)
        return (await redis.zcard(beats)) >= ctx.workers
      }, 30_000, `${ctx.workers} auditq worker heartbeat(s)`)
    } finally {
      redis.disconnect()
    }
    audit = await createAuditLogger({
      databaseUrl: ctx.target.databaseUrl,
      databaseSchema: ctx.fixture.schema,
      redisUrl: ctx.target.redisUrl,
      dataDir,
      queue: { prefix: ctx.fixture.redisPrefix, name: queueName, capEvents: ctx.capEvents, spillDir: join(dataDir, 'spill') },
    })
  } catch (error) {
    await workers.stop()
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  const logger = audit
  return {
    log: (i) => logger.log(sampleEvent(i, ctx.tag)),
    acknowledgesCommit: false,
    workerPids: () => [workers.pid],
    deadWorker: () => deadOf([workers], 'auditq worker'),
    figures: () => pick(logger.stats(), ['enqueued', 'overflowed', 'spilled', 'queueUnavailable', 'refused', 'failed']),
    async workerFigures(events) {
      // Heartbeats come every 2 s: wait for the ones that count the last batch (at most ~2 s).
      const redis = new Redis(ctx.target.redisUrl)
      const monitor = new QueueMonitor(redis, queueKeys({ prefix: ctx.fixture.redisPrefix, queue: queueName }))
      try {
        const deadline = Date.now() + 5_000
        for (;;) {
          const live = await monitor.liveWorkers()
          const stored = live.reduce((sum, w) => sum + Number(w.figures.total_stored ?? 0), 0)
          if (stored >= events || Date.now() > deadline) {
            const batches = live.reduce((sum, w) => sum + Number(w.figures.batches_last_minute ?? 0), 0)
            const batchMs = live.reduce((sum, w) => sum + Number(w.figures.batches_last_minute ?? 0) * Number(w.figures.avg_batch_time_ms ?? 0), 0)
            return { worker_processes: ctx.workers, worker_batches: batches, worker_avg_batch_ms: batches > 0 ? batchMs / batches : 0, worker_stored: stored }
          }
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      } finally {
        redis.disconnect()
      }
    },
    async close() {
      await logger.close()
      await workers.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Baseline (a): validate, then one INSERT per event awaited by the caller (the store's pool of 10). */
export async function insertPerEvent(ctx: SystemContext): Promise<System> {
  const store = await createPostgresStore({ connectionString: ctx.target.databaseUrl, schema: ctx.fixture.schema })
  return {
    log: async (i) => {
      const event = validated(i, ctx.tag)
      await store.insertBatch([event])
      return event.id
    },
    acknowledgesCommit: true,
    workerPids: () => [],
    deadWorker: () => undefined,
    figures: () => ({}),
    close: () => store.close(),
  }
}

/**
 * Baseline (b), producer side: a Redis-list logger's `logAudit` (LLEN, then LPUSH if under MAX_QUEUE_LENGTH,
 * else drop a non-critical event) after the same validation auditq does, so rows are identical.
 */
export async function redisList(ctx: SystemContext): Promise<System> {
  const key = `${ctx.fixture.redisPrefix}:audit:queue`
  const redis = new Redis(ctx.target.redisUrl)
  const spawned = await startWorkers(ctx, 'redis-list-worker.js', () => [ctx.target.redisUrl, key, ctx.target.databaseUrl, ctx.fixture.schema], () => redis.disconnect())
  let dropped = 0
  return {
    log: async (i) => {
      const event = validated(i, ctx.tag)
      const queueLength = await redis.llen(key)
      if (queueLength > ctx.capEvents) dropped++
      else await redis.lpush(key, JSON.stringify(event))
      return event.id
    },
    acknowledgesCommit: false,
    workerPids: () => spawned.map((s) => s.pid),
    deadWorker: () => deadOf(spawned, 'redis-list worker'),
    figures: () => ({ dropped }),
    async close() {
      redis.disconnect()
      await stopAll(spawned)
    },
  }
}

/**
 * Baseline (e), producer side: the same validation as auditq, then one XADD of the event's JSON
 * (no cap, no spill, no accounting); plain-stream-worker.ts drains it.
 */
export async function plainStream(ctx: SystemContext): Promise<System> {
  const key = `${ctx.fixture.redisPrefix}:plain:stream`
  const redis = new Redis(ctx.target.redisUrl)
  // The group exists before the first XADD, so no worker starts reading after entries it missed.
  await redis.xgroup('CREATE', key, 'writers', '0', 'MKSTREAM')
  const spawned = await startWorkers(ctx, 'plain-stream-worker.js', (n) => [ctx.target.redisUrl, key, ctx.target.databaseUrl, ctx.fixture.schema, `w${n}`], () => redis.disconnect())
  return {
    log: async (i) => {
      const event = validated(i, ctx.tag)
      await redis.xadd(key, '*', 'event', JSON.stringify(event))
      return event.id
    },
    acknowledgesCommit: false,
    workerPids: () => spawned.map((s) => s.pid),
    deadWorker: () => deadOf(spawned, 'plain stream worker'),
    figures: () => ({}),
    async close() {
      redis.disconnect()
      await stopAll(spawned)
    },
  }
}

/** Baseline (c), producer side: one BullMQ job per event with a typical processor's job options. */
export async function bullmq(ctx: SystemContext): Promise<System> {
  const prefix = `${ctx.fixture.redisPrefix}-bull`
  const queueName = 'audit'
  const url = new URL(ctx.target.redisUrl)
  const queue = new Queue(queueName, {
    connection: { host: url.hostname, port: Number(url.port || 6379) },
    prefix,
    defaultJobOptions: { removeOnComplete: 50, removeOnFail: 100, attempts: 3, backoff: { type: 'exponential', delay: 2000 } },
  })
  await queue.waitUntilReady().catch(async (error: unknown) => {
    await queue.close()
    throw error
  })
  const spawned = await startWorkers(ctx, 'bullmq-worker.js', () => [ctx.target.redisUrl, prefix, queueName, ctx.target.databaseUrl, ctx.fixture.schema], () => queue.close())
  return {
    log: async (i) => {
      const event = validated(i, ctx.tag)
      await queue.add('log_event', event)
      return event.id
    },
    acknowledgesCommit: false,
    workerPids: () => spawned.map((s) => s.pid),
    deadWorker: () => deadOf(spawned, 'bullmq worker'),
    figures: () => ({}),
    async close() {
      await queue.close()
      await stopAll(spawned)
    },
  }
}

function pick(source: object, keys: string[]): Record<string, number> {
  const record = source as Record<string, unknown>
  return Object.fromEntries(keys.filter((key) => typeof record[key] === 'number').map((key) => [key, record[key] as number]))
}

export { validated }
