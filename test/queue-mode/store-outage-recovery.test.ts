/**
 * A worker waiting out a PostgreSQL outage resumes within about `worker.storeProbeEveryMs` of the
 * database answering again, not when its backoff (grown to tens of seconds over a long outage)
 * happens to end. Against a private PostgreSQL that is really stopped and started again.
 */
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { queueKeys, RedisStreamsProducer } from '../../src/queue/redis-streams/index.js'
import { createLogger } from '../../src/util/logger.js'
import { startWorkerRuntime } from '../../src/worker/runtime.js'
import { storedEvent } from '../support/events.js'
import { privatePostgresAvailable } from '../support/private-postgres.js'
import { openOutageRig } from '../support/outage-rig.js'
import { redisAvailable } from '../support/redis-server.js'
import { REDIS_URL } from '../support/services.js'
import { sleep, until } from './harness.js'

const hasServices = privatePostgresAvailable() && (await redisAvailable())
const silent = createLogger({ level: 'silent' })

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

describe.skipIf(!hasServices)('worker after a store outage', () => {
  it('resumes writing within a few seconds of PostgreSQL coming back, however long its backoff has grown', async () => {
    const { server, store, redis, prefix } = await openOutageRig('outage', silent, cleanups)
    const config = loadConfig({
      logLevel: 'silent',
      redisUrl: REDIS_URL,
      queue: { prefix },
      // A first backoff of 10–20 s stands for one grown over a long outage (from 2 s it reaches
      // 16–30 s after four failures) without the test sitting through those failures first.
      worker: { flushIntervalMs: 50, retryAttempts: 3, retryInitialDelayMs: 20_000, retryMaxDelayMs: 30_000, storeProbeEveryMs: 1_000 },
    })
    let failedAttempts = 0
    const runtime = await startWorkerRuntime({ config, store, redis, logger: silent, workerId: 'outage-w1', observeFailedAttempt: () => (failedAttempts += 1) })
    cleanups.push(() => runtime.stop(2_000))

    await server.stop()
    const events = Array.from({ length: 50 }, () => storedEvent())
    await new RedisStreamsProducer({ redis, keys: queueKeys({ prefix }), capEvents: 1_000_000 }).enqueue(events)
    await until(async () => failedAttempts >= 1, { timeoutMs: 20_000, describe: () => 'the worker never failed an insert' })
    // Down a little longer, so the worker's probes see it down before it returns.
    await sleep(1_500)
    await server.start()
    const backAt = Date.now()

    const db = new pg.Client({ connectionString: server.url })
    cleanups.push(() => db.end())
    await db.connect()
    const stored = async () => Number((await db.query<{ n: string }>('select count(*) as n from audit_logs')).rows[0]!.n)
    await until(async () => (await stored()) === events.length, { timeoutMs: 30_000, describe: async () => `stored ${await stored()} of ${events.length}` })
    const lagMs = Date.now() - backAt
    // Probed every second; generous for a loaded machine. Sleeping out the backoff took >= 8 s.
    expect(lagMs).toBeLessThan(5_000)
    expect(failedAttempts).toBe(1)
  }, 60_000)
})
