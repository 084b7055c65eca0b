/**
 * SIGTERM while events keep arriving. An `auditq worker` process stops reading,
 * writes and acknowledges what it holds, and exits 0 within `worker.shutdownDeadlineMs` (10 s),
 * leaving nothing pending under its consumer name; what arrives after it left waits in the queue
 * for the next worker.
 */
import { describe, expect, it } from 'vitest'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, sleep, until, WORKER_CONSUMER } from './harness.js'
import { workerRunPerTest } from './worker-run.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const SHUTDOWN_DEADLINE_MS = 10_000

describe.skipIf(!hasServices)('queue mode: a worker process stopped under load', () => {
  const startRun = workerRunPerTest()

  it('SIGTERM during load: the worker exits 0 within its deadline with nothing pending for its consumer name', async () => {
    const { deployment: d, audit, worker } = await startRun()

    const acknowledged: string[] = []
    let loading = true
    const load = (async () => {
      for (let round = 0; loading; round++) {
        acknowledged.push(...(await Promise.all(Array.from({ length: 200 }, (_, i) => audit.log({ action: 'under.load', actor_id: `r${round}-${i}` })))))
        await sleep(10)
      }
    })()

    await until(async () => (await d.storedCount()) >= 3_000, { timeoutMs: 30_000, describe: () => worker.tail() })
    // Signalled while it holds entries it has read but not yet acknowledged.
    await until(async () => (await d.pendingFor(WORKER_CONSUMER)) > 0, { timeoutMs: 10_000, intervalMs: 5, describe: () => worker.tail() })
    const signalled = Date.now()
    worker.kill('SIGTERM')
    const exit = await worker.exited
    const tookMs = Date.now() - signalled
    expect(exit).toEqual({ code: 0, signal: null })
    expect(tookMs).toBeLessThan(SHUTDOWN_DEADLINE_MS)
    expect(worker.logs('queue worker stopped')).toMatchObject([{ drained: true }])
    expect(await d.pendingFor(WORKER_CONSUMER)).toBe(0)

    // The load goes on after it left: those events wait in the queue, and the next worker takes them.
    const queuedAtExit = acknowledged.length
    await sleep(300)
    loading = false
    await load
    expect(acknowledged.length).toBeGreaterThan(queuedAtExit)
    const next = d.spawnWorker()
    await until(async () => (await d.storedCount()) === acknowledged.length, {
      timeoutMs: 30_000,
      describe: async () => `stored ${await d.storedCount()} of ${acknowledged.length}:\n${next.tail()}`,
    })
    expect(difference(acknowledged, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    next.kill('SIGTERM')
    expect(await next.exited).toEqual({ code: 0, signal: null })
  }, 90_000)
})
