/**
 * An `auditq worker` process killed with SIGKILL in the middle of a run loses
 * nothing and stores nothing twice. Its unacknowledged entries stay pending in the consumer group;
 * the restarted worker claims them once they have been idle `worker.claimIdleMs` (30 s, the
 * default: no variable sets it), and the primary key absorbs the batch that was committed but
 * not acknowledged at the kill.
 */
import { describe, expect, it } from 'vitest'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, until, WORKER_CONSUMER } from './harness.js'
import { workerRunPerTest } from './worker-run.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const TOTAL = 50_000

describe.skipIf(!hasServices)('queue mode: a worker process killed mid-run', () => {
  const startRun = workerRunPerTest()

  it('SIGKILL a worker in the middle of a 50,000-event run; restarted, it stores every acknowledged id exactly once', async () => {
    const { deployment: d, audit, worker: first } = await startRun()
    let worker = first

    const acknowledged: string[] = []
    const producing = (async () => {
      for (let start = 0; start < TOTAL; start += 500) {
        const ids = await Promise.all(Array.from({ length: 500 }, (_, i) => audit.log({ action: 'crash.run', actor_id: `u${start + i}` })))
        acknowledged.push(...ids)
      }
    })()

    // A different moment each run, so over the runs the kill lands between and inside batches.
    const killAt = 5_000 + Math.floor(Math.random() * 20_000)
    await until(async () => (await d.storedCount()) >= killAt, { timeoutMs: 60_000, intervalMs: 20, describe: () => `stored ${acknowledged.length} acknowledged:\n${worker.tail()}` })
    worker.kill('SIGKILL')
    expect((await worker.exited).signal).toBe('SIGKILL')
    expect(await d.storedCount()).toBeLessThan(TOTAL)
    // It died holding entries it had read (it reads ahead while it writes): they are orphans now.
    expect(await d.pendingFor(WORKER_CONSUMER)).toBeGreaterThan(0)

    worker = d.spawnWorker()
    await producing
    expect(acknowledged).toHaveLength(TOTAL)
    expect(new Set(acknowledged).size).toBe(TOTAL)

    await until(async () => (await d.storedCount()) === TOTAL && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 90_000,
      describe: async () => `stored ${await d.storedCount()} of ${TOTAL}, queued ${await d.redis.xlen(d.keys.events)}, pending ${await d.pendingFor(WORKER_CONSUMER)}:\n${worker.tail()}`,
    })
    expect(difference(acknowledged, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect(await d.pendingFor(WORKER_CONSUMER)).toBe(0)
    expect(await d.redis.xlen(d.keys.deadLetters)).toBe(0)

    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 180_000)
})
