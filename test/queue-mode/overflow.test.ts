/**
 * The queue fills past its cap while no worker runs. Critical events are in the
 * store before log() resolves; every other event is queued or spilled (policy `spill`) or refused
 * and counted (policy `drop`). Spilled events survive their producer process being killed: the
 * next producer process on the same spill directory adopts the journal and replays it, and once a
 * worker runs, every accepted event lands exactly once.
 */
import { v7 as uuidv7 } from 'uuid'
import { afterEach, describe, expect, it } from 'vitest'
import { QueueMonitor } from '../../src/queue/redis-streams/index.js'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, openDeployment, until, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const CAP = 300

describe.skipIf(!hasServices)('queue mode: overflow past the cap with no worker running', () => {
  let deployment: Deployment | undefined
  afterEach(async () => {
    await deployment?.dispose()
    deployment = undefined
  })

  it('spill: critical events are stored before log() resolves, the rest spill, and all of them land after the producer is killed and a new one replays', async () => {
    const d = (deployment = await openDeployment())
    const queue = { capEvents: CAP, overflowPolicy: 'spill' as const }
    // Fill the queue exactly, then keep logging: 1,700 more events, one in ten critical.
    const first = d.spawnProducer(queue, [{ count: CAP }, { count: 1_700, criticalEvery: 10 }])
    const stats = await first.idle
    const { critical, other } = first.acknowledged()
    expect(first.refusals()).toEqual([])
    expect(critical).toHaveLength(170)
    expect(other).toHaveLength(CAP + 1_530)
    // Critical events never try the queue (critical is decided once, at intake): only the 1,530 others overflow.
    expect(stats).toMatchObject({ enqueued: CAP, overflowed: 1_530, spilled: 1_530, refused: 0 })
    expect(await d.redis.xlen(d.keys.events)).toBe(CAP)
    // No worker has run: what is in the store got there on log()'s own path, before it resolved.
    expect(difference(critical, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    const counters = await new QueueMonitor(d.redis, d.keys).readCounters()
    expect(counters).toMatchObject({ spilled: 1_530, dropped: 0 })
    // Exactly: replay attempts that find the queue still full do not count the same events again.
    expect(counters.overflow).toBe(1_530)

    // A crash after acknowledging: the spilled events exist only in its journal now.
    first.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    const second = d.spawnProducer(queue, [])
    await second.idle
    const worker = d.spawnWorker()
    const everything = [...critical, ...other]
    await until(async () => (await d.storedCount()) === everything.length && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 60_000,
      describe: async () => `stored ${await d.storedCount()} of ${everything.length}, queued ${await d.redis.xlen(d.keys.events)}:\n${worker.tail()}\n${second.tail()}`,
    })
    expect(difference(everything, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect((await new QueueMonitor(d.redis, d.keys).readCounters()).replayed).toBeGreaterThanOrEqual(1_530)

    second.kill('SIGTERM')
    expect(await second.exited).toEqual({ code: 0, signal: null })
    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 90_000)

  it('drop: critical events are stored before log() resolves, the others that do not fit are refused with AUDITQ_QUEUE_FULL and counted, and only accepted events land', async () => {
    const d = (deployment = await openDeployment())
    const audit = await d.openLogger({ capEvents: CAP, overflowPolicy: 'drop' })
    const filled = await Promise.all(Array.from({ length: CAP }, (_, i) => audit.log({ action: 'fill', actor_id: `f${i}` })))
    const overflow = Array.from({ length: 1_000 }, (_, i) => ({ id: uuidv7(), action: 'overflow', category: i % 10 === 9 ? ('critical' as const) : ('info' as const) }))
    const outcomes = await Promise.allSettled(overflow.map((event) => audit.log(event)))

    const critical = overflow.filter((event) => event.category === 'critical').map((event) => event.id)
    const accepted = overflow.filter((_, i) => outcomes[i]!.status === 'fulfilled').map((event) => event.id)
    const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')
    expect(accepted).toEqual(critical)
    expect(refused).toHaveLength(900)
    for (const { reason } of refused) expect(reason).toMatchObject({ code: 'AUDITQ_QUEUE_FULL' })
    expect(audit.stats()).toMatchObject({ enqueued: CAP, refused: 900, spilled: 0 })
    expect(await new QueueMonitor(d.redis, d.keys).readCounters()).toMatchObject({ dropped: 900, spilled: 0 })
    expect(difference(critical, await d.storedIds())).toEqual({ missing: [], unexpected: [] })

    const worker = d.spawnWorker()
    const expected = [...filled, ...critical]
    await until(async () => (await d.storedCount()) >= expected.length && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 30_000,
      describe: async () => `stored ${await d.storedCount()} of ${expected.length}:\n${worker.tail()}`,
    })
    expect(difference(expected, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 60_000)
})
