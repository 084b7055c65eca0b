/**
 * auditq pausing, in the access trail, against real Redis and PostgreSQL: the queue overflowing
 * into the spill journal and the drop policy refusing events are each recorded once per episode
 * (when it begins, while the queue is still full, and when it ends, with the count), and a worker
 * pausing because PostgreSQL is down (a private cluster, really stopped) is recorded once the
 * store answers again, dated when the pause began.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { connectRedis, queueKeys, RedisStreamsProducer } from '../queue/redis-streams/index.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import type { Store } from '../store/store.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime } from '../worker/runtime.js'
import { freshStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { privatePostgresAvailable } from '../../test/support/private-postgres.js'
import { openOutageRig } from '../../test/support/outage-rig.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { postgresAvailable, REDIS_URL } from '../../test/support/services.js'
import { serviceTrail } from './service-trail.js'

const silent = createLogger({ level: 'silent' })
const hasRedis = await redisAvailable()
const hasPostgres = await postgresAvailable()

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`${what}; last: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function pauses(store: Store, action: string) {
  const { events } = await store.query({ tenant_id: 'auditq', action }, { limit: 100 })
  return events.reverse().map((event) => ({ occurred_at: event.occurred_at, category: event.category, what: event.metadata['what'] as Record<string, unknown>, aggregated: event.metadata['aggregated'] as { count: number; first_at: string; last_at: string } | undefined }))
}

describe.skipIf(!hasRedis || !hasPostgres)('queue overflow in the access trail (Redis, PostgreSQL)', () => {
  it('records an overflow into the spill journal and a drop once each when it begins, while the queue is still full, and once when it ends with the count', async () => {
    const { store, dispose } = await freshStore('postgres')
    cleanups.push(dispose)
    const prefix = uniqueRedisPrefix('pause-trail')
    const redis = connectRedis(REDIS_URL)
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })
    const spillDir = await mkdtemp(join(tmpdir(), 'auditq-pause-trail-'))
    cleanups.push(() => rm(spillDir, { recursive: true, force: true }))
    const quietMs = 1_000
    const config = loadConfig({ logLevel: 'silent', access: { aggregateWindowMs: quietMs } })
    const trail = serviceTrail({ role: 'serve', store, config, logger: silent })
    cleanups.push(() => trail.stop())
    const open = async (overflowPolicy: 'spill' | 'drop') => {
      const audit = await createAuditLogger({
        store,
        logger: silent,
        redisUrl: REDIS_URL,
        // No worker drains this queue: at its cap of 5 it stays full for the whole test.
        queue: { prefix, spillDir, capEvents: 5, overflowPolicy, replayEveryMs: 60_000 },
        observeQueueDivert: (divert) => trail.queueDiverted(divert),
      })
      cleanups.push(() => audit.close())
      return audit
    }
    const spilling = await open('spill')
    for (let i = 0; i < 25; i++) await spilling.log({ tenant_id: 'acme', action: 'doc.read', actor_id: `u${i}` })
    expect(spilling.stats()).toMatchObject({ enqueued: 5, spilled: 20 })

    // The first record is in the store while the queue is still over its cap: written beside the
    // queue, not through it.
    const began = await waitFor(() => pauses(store, 'auditq.queue.overflow'), (found) => found.length >= 1, 5_000, 'no overflow record')
    expect(began).toEqual([{ occurred_at: expect.any(String), category: 'warning', aggregated: undefined, what: expect.objectContaining({ role: 'serve', cause: 'over_cap', outcome: 'spilled', policy: 'spill', state: 'began' }) }])
    expect(await redis.xlen(queueKeys({ prefix }).events)).toBe(5)

    // Quiet for a window: the episode ends with every spilled event counted, in one record.
    const ended = await waitFor(() => pauses(store, 'auditq.queue.overflow'), (found) => found.length >= 2, 10_000, 'the overflow never ended')
    expect(ended).toHaveLength(2)
    expect(ended[1]).toMatchObject({ what: { cause: 'over_cap', outcome: 'spilled', state: 'ended', ended: 'quiet' }, aggregated: { count: 20 } })

    const dropping = await open('drop')
    const refused = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => dropping.log({ tenant_id: 'acme', action: 'doc.read', actor_id: `d${i}` })))
    expect(refused.every((result) => result.status === 'rejected' && (result.reason as { code?: string }).code === 'AUDITQ_QUEUE_FULL')).toBe(true)
    await trail.stop()
    const all = await pauses(store, 'auditq.queue.overflow')
    expect(all.slice(2).map((record) => [record.what['outcome'], record.what['code'], record.what['state'], record.aggregated?.count])).toEqual([
      ['refused', 'AUDITQ_QUEUE_FULL', 'began', undefined],
      // Still going when the service stopped: ended by the stop, with its count.
      ['refused', 'AUDITQ_QUEUE_FULL', 'ended', 10],
    ])
    expect(trail.stats()).toMatchObject({ failed: 0, pending: 0 })
  }, 60_000)
})

describe.skipIf(!hasRedis || !privatePostgresAvailable())('a worker pausing for the store, in the access trail (private PostgreSQL, stopped and started)', () => {
  it('records the pause once PostgreSQL answers again, dated when it began, and its end with the number of failed attempts', async () => {
    const { server, store, redis, prefix } = await openOutageRig('pause-worker', silent, cleanups)
    const config = loadConfig({
      logLevel: 'silent',
      redisUrl: REDIS_URL,
      queue: { prefix },
      access: { aggregateWindowMs: 1_000 },
      worker: { flushIntervalMs: 50, retryAttempts: 3, retryInitialDelayMs: 300, retryMaxDelayMs: 600, storeProbeEveryMs: 200 },
    })
    const trail = serviceTrail({ role: 'worker', store, config, logger: silent })
    cleanups.push(() => trail.stop())
    const runtime = await startWorkerRuntime({ config, store, redis, logger: silent, workerId: 'pause-w1', observeStorePause: (state, id) => trail.storePause(state, id) })
    cleanups.push(() => runtime.stop(2_000))

    await server.stop()
    const downAt = new Date()
    const events = Array.from({ length: 20 }, () => storedEvent())
    await new RedisStreamsProducer({ redis, keys: queueKeys({ prefix }), capEvents: 1_000_000 }).enqueue(events)
    // The pause's first record cannot be written while the store is down: it waits, counted as a failure.
    await waitFor(async () => trail.stats(), (stats) => stats.failed >= 1 && stats.pending >= 1, 20_000, 'the pause was never noticed')
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    await server.start()
    const backAt = new Date()

    const stored = async () => (await store.query({}, { limit: 200 })).events.filter((event) => !event.action.startsWith('auditq.')).length
    await waitFor(stored, (count) => count === events.length, 30_000, 'the queued events were never stored')
    // A record can be visible to another connection a moment before its writer hears the commit
    // and takes it off its pending list: wait for both.
    const written = async () => ({ found: await pauses(store, 'auditq.queue.pause'), pending: trail.stats().pending })
    const { found: recorded } = await waitFor(written, ({ found, pending }) => found.length >= 2 && pending === 0, 30_000, 'the pause was never recorded')
    expect(recorded.map((record) => record.what)).toEqual([
      expect.objectContaining({ role: 'worker', cause: 'store_unavailable', worker_id: 'pause-w1', state: 'began' }),
      expect.objectContaining({ role: 'worker', cause: 'store_unavailable', worker_id: 'pause-w1', state: 'ended', ended: 'resumed' }),
    ])
    // Dated when the worker paused, not when the record could be written.
    expect(Date.parse(recorded[0]!.occurred_at)).toBeGreaterThanOrEqual(downAt.getTime() - 1_000)
    expect(Date.parse(recorded[0]!.occurred_at)).toBeLessThan(backAt.getTime())
    expect(recorded[1]!.aggregated!.count).toBeGreaterThanOrEqual(1)
    expect(trail.stats()).toMatchObject({ pending: 0 })
  }, 90_000)
})
