/**
 * No false alarm through normal operation. Numbered producers in queue mode, processes of the
 * built SDK, while everything the pipeline is built to survive happens: the worker is SIGKILLed
 * mid-run and restarted, the queue fills past its cap so events spill to the journal, the first
 * producer is SIGKILLed after its events were acknowledged (its journal adopted and replayed by
 * the next process), and a second producer session runs. Once drained, the check — run as if
 * twice the in-flight bound had passed, so any unaccounted number would read "missing" — names
 * nothing missing and nothing in flight, for either producer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { checkCompleteness, type CompletenessReport } from '../../src/completeness/check.js'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import { QueueMonitor } from '../../src/queue/redis-streams/index.js'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, openDeployment, until, WORKER_CONSUMER, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const BOUND = 15 * 60_000
const CAP = 1_000
const FIRST = 5_000
const SECOND = 2_000

describe.skipIf(!hasServices)('queue mode: producer sequences through crashes, spill and restarts', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  let deployment: Deployment | undefined
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
    await deployment?.dispose()
    deployment = undefined
  })

  it('SIGKILLed worker, spill and replay, a SIGKILLed producer and a second session: once drained, nothing is missing', async () => {
    const d = (deployment = await openDeployment())
    const store = await createPostgresStore({ connectionString: d.databaseUrl, schema: d.schema })
    cleanups.push(() => store.close())
    const queue = { capEvents: CAP, overflowPolicy: 'spill' as const }
    const sdk = { producer: true, producerHeadIntervalMs: 250 }

    let worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')
    const first = d.spawnProducer(queue, [{ count: FIRST, criticalEvery: 10, concurrency: 50 }], sdk)
    // Killed mid-run: it dies holding entries it read and never acknowledged.
    await until(async () => (await d.storedCount()) >= 500, { timeoutMs: 60_000, intervalMs: 20, describe: () => worker.tail() })
    worker.kill('SIGKILL')
    expect((await worker.exited).signal).toBe('SIGKILL')
    expect(await d.storedCount()).toBeLessThan(FIRST)
    const firstStats = await first.idle
    expect(first.refusals()).toEqual([])
    // The worker died holding entries it had read (it reads ahead while it writes), and the queue
    // filled past its cap behind it: both of the paths this story is about were taken.
    expect(await d.pendingFor(WORKER_CONSUMER)).toBeGreaterThan(0)
    expect(firstStats.spilled).toBeGreaterThan(0)
    // A crash after acknowledging: what it spilled exists only in its journal now.
    first.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    // The second session (a new producer id) logs with no worker running, past the cap: it spills
    // too, and adopts the first one's journal.
    const second = d.spawnProducer(queue, [{ count: SECOND, criticalEvery: 10, concurrency: 50 }], sdk)
    const secondStats = await second.idle
    expect(second.refusals()).toEqual([])
    expect(secondStats.spilled).toBeGreaterThan(0)

    worker = d.spawnWorker()
    const everything = [...Object.values(first.acknowledged()).flat(), ...Object.values(second.acknowledged()).flat()]
    expect(everything).toHaveLength(FIRST + SECOND)
    await until(async () => (await d.storedCount()) === everything.length && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 90_000,
      describe: async () => `stored ${await d.storedCount()} of ${everything.length}, queued ${await d.redis.xlen(d.keys.events)}:\n${worker.tail()}\n${second.tail()}`,
    })
    expect(difference(everything, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect((await new QueueMonitor(d.redis, d.keys).readCounters()).replayed).toBeGreaterThan(0)

    // The second session closes: its final head record goes the way its events went.
    second.kill('SIGTERM')
    expect(await second.exited).toEqual({ code: 0, signal: null })
    const report = (now?: Date): Promise<CompletenessReport> => checkCompleteness(store.completeness!, {}, { inFlightBoundMs: BOUND, ...(now ? { now } : {}) })
    await until(async () => (await report()).producers.some((p) => p.head?.final === true && p.head.last_seq === SECOND), {
      timeoutMs: 30_000,
      describe: async () => JSON.stringify(await report()),
    })
    await until(async () => (await d.redis.xlen(d.keys.events)) === 0, { timeoutMs: 30_000, describe: () => worker.tail() })

    const later = await report(new Date(Date.now() + 2 * BOUND))
    expect(later.producers).toHaveLength(2)
    expect(later.producers.map((p) => p.stored).sort((a, b) => a - b)).toEqual([SECOND, FIRST])
    for (const p of later.producers) expect(p).toMatchObject({ rejected: 0, dead_lettered: 0, missing: [], in_flight: [] })
    expect(later.missing_events).toBe(0)
    const cli = await d.runCli(['completeness'])
    expect(cli).toMatchObject({ code: 0, stdout: expect.stringMatching(/^complete: no producer has missing events \(2 producers\)/) })

    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 240_000)
})
