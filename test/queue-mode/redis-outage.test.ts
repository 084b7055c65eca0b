/**
 * Redis goes away in the middle of a run and comes back. A private
 * `redis-server` with `--appendonly yes --appendfsync always` (the README's no-loss setting) is
 * killed with SIGKILL while a producer logs and an `auditq worker` process drains: log() neither
 * throws nor hangs (events spill to the local journal), the worker waits and reconnects, the
 * journal is replayed, and every acknowledged event lands exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { QueuedAuditLogger } from '../../src/sdk/queued-logger.js'
import { redisServerAvailable, startRedisServer, type RedisTestServer } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, openDeployment, sleep, until, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && redisServerAvailable()

describe.skipIf(!hasServices)('queue mode: Redis stopped during a run', () => {
  let server: RedisTestServer | undefined
  let deployment: Deployment | undefined
  afterEach(async () => {
    await deployment?.dispose()
    await server?.destroy()
    deployment = undefined
    server = undefined
  })

  it('Redis is killed and restarted mid-run: producers spill while it is down, the worker reconnects, the spill replays, every event lands once', async () => {
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
    const d = (deployment = await openDeployment({ redisUrl: server.url }))
    const audit = (await d.openLogger({ capEvents: 1_000_000, redisCommandTimeoutMs: 500 })) as QueuedAuditLogger
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')

    const acknowledged: string[] = []
    const failures: unknown[] = []
    let slowestLogMs = 0
    let loading = true
    const load = (async () => {
      for (let round = 0; loading; round++) {
        const started = Date.now()
        const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => audit.log({ action: 'through.outage', actor_id: `r${round}-${i}` })))
        slowestLogMs = Math.max(slowestLogMs, Date.now() - started)
        for (const outcome of outcomes) {
          if (outcome.status === 'fulfilled') acknowledged.push(outcome.value)
          else failures.push(outcome.reason)
        }
        await sleep(10)
      }
    })()

    await until(async () => (await d.storedCount()) >= 1_000, { timeoutMs: 30_000, describe: () => worker.tail() })
    await server.kill()
    const acknowledgedBeforeOutage = acknowledged.length
    await sleep(2_000)
    // Down for two seconds: logging went on, into the spill journal.
    expect(acknowledged.length).toBeGreaterThan(acknowledgedBeforeOutage)
    expect(audit.stats().queueUnavailable).toBeGreaterThan(0)
    expect(audit.stats().spilled).toBeGreaterThan(0)
    await server.restart()
    // Back: log() goes to the queue again (the spilled events follow, replayed by the journal).
    const enqueuedBeforeRestart = audit.stats().enqueued
    await until(async () => audit.stats().enqueued > enqueuedBeforeRestart, { timeoutMs: 20_000, intervalMs: 10, describe: () => JSON.stringify(audit.stats()) })
    await sleep(300)
    loading = false
    await load

    expect(failures).toEqual([])
    expect(slowestLogMs).toBeLessThan(3_000)
    await until(async () => (await d.storedCount()) === acknowledged.length && audit.spillStats().events === 0 && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 90_000,
      describe: async () =>
        `stored ${await d.storedCount()} of ${acknowledged.length}, spill ${JSON.stringify(audit.spillStats())}, queued ${await d.redis.xlen(d.keys.events)}:\n${worker.tail()}`,
    })
    expect(difference(acknowledged, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect(audit.stats().replayed).toBeGreaterThanOrEqual(audit.stats().spilled)
    // The worker lived through it: it saw the connection fail and went on, in the same process.
    expect(worker.logs('redis connection error; retrying').length).toBeGreaterThan(0)
    expect(worker.logs('queue worker stopped')).toEqual([])
    // With appendonly the restart kept the queue: noticed as a restart, never reported as a loss.
    expect(worker.logs().filter((line) => String(line.msg).startsWith('redis lost the queue'))).toEqual([])

    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 150_000)
})
