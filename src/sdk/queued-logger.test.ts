/**
 * Queue mode end to end on real Redis and a real store: accepted means "Redis has it"; over the
 * cap, critical events go to the store, the rest follow the policy; nothing is lost or silent.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { connectRedis, QueueMonitor, queueKeys, RedisStreamsConsumer } from '../queue/redis-streams/index.js'
import { createLogger } from '../util/logger.js'
import { QueueWorker } from '../worker/queue-worker.js'
import { createAuditLogger, type AuditLogger } from './audit-logger.js'
import type { QueueModeOptions } from './queued-logger.js'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

describe.skipIf(!hasRedis)('queue-mode SDK', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function setup(queue: Partial<QueueModeOptions> = {}) {
    const prefix = uniqueRedisPrefix('sdk')
    const redis: Redis = connectRedis(REDIS_URL)
    const keys = queueKeys({ prefix })
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-spill-'))
    const t: TestStore = await freshStore('embedded')
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
      await t.dispose()
      rmSync(spillDir, { recursive: true, force: true })
    })
    const open = async (extra: Partial<QueueModeOptions> = {}) => {
      const audit = await createAuditLogger({ store: t.store, logger: silent, queue: { redis, prefix, spillDir, replayEveryMs: 50, ...queue, ...extra } })
      cleanups.push(() => audit.close())
      return audit
    }
    const startWorker = async () => {
      const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'w1' })
      const worker = new QueueWorker({ consumer, store: t.store, logger: silent, flushIntervalMs: 20, idleBlockMs: 20 })
      worker.start()
      cleanups.push(async () => {
        await worker.stop(5_000)
        await consumer.close()
      })
    }
    const storedCount = async () => (await t.store.query({}, { limit: 1000 })).events.length
    return { redis, keys, prefix, spillDir, t, open, startWorker, storedCount, monitor: new QueueMonitor(redis, keys) }
  }

  it('resolves log() once Redis holds the event; a worker then stores it', async () => {
    const s = await setup()
    const audit = await s.open()
    const id = await audit.log({ action: 'queued.login', actor_id: 'u1' })
    expect(await s.redis.xlen(s.keys.events)).toBe(1)
    expect(await s.t.store.getById(id)).toBeNull()
    await s.startWorker()
    await vi.waitFor(async () => expect(await s.t.store.getById(id)).not.toBeNull(), { timeout: 5_000 })
  })

  it('writes logCritical straight to the store, never through the queue', async () => {
    const s = await setup()
    const audit = await s.open()
    const id = await audit.logCritical({ action: 'permanent_ban_applied', actor_id: 'u1' })
    expect(await s.t.store.getById(id)).toMatchObject({ category: 'critical' })
    expect(await s.redis.xlen(s.keys.events)).toBe(0)
  })

  it('writes an event of category critical straight to the store whichever call carries it; its bulk neighbours still queue', async () => {
    const s = await setup()
    const audit = await s.open()
    const one = await audit.log({ action: 'account.locked', category: 'critical' })
    const bulk = await audit.logBulk([{ action: 'queued.bulk' }, { action: 'account.locked', category: 'critical' }])
    expect(await s.t.store.getById(one)).toMatchObject({ category: 'critical' })
    expect(await s.t.store.getById(bulk.ids[1]!)).toMatchObject({ category: 'critical' })
    expect(await s.t.store.getById(bulk.ids[0]!)).toBeNull()
    expect(await s.redis.xlen(s.keys.events)).toBe(1)
  })

  it('over the cap: critical events reach the store before log() resolves; the rest spill and land later', async () => {
    const s = await setup({ capEvents: 10, overflowPolicy: 'spill' })
    const audit = await s.open()
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => audit.log({ action: 'burst', actor_id: `b${i}` })))
    const critical = await audit.log({ action: 'burst.critical', category: 'critical' })
    expect(await s.t.store.getById(critical)).not.toBeNull()
    expect(await s.redis.xlen(s.keys.events)).toBe(10)
    // The critical event never tried the queue (critical is decided once, at intake), so only the 20 spilled ones overflowed.
    expect(audit.stats()).toMatchObject({ enqueued: 10, spilled: 20, overflowed: 20 })
    expect((await s.monitor.readCounters()).spilled).toBe(20)
    await s.startWorker()
    await vi.waitFor(async () => expect(await s.storedCount()).toBe(31), { timeout: 10_000 })
    for (const id of ids) expect(await s.t.store.getById(id)).not.toBeNull()
    // Replays that found the queue still full (every 50 ms here) did not count the same events again.
    expect((await s.monitor.readCounters()).overflow).toBe(20)
  })

  it('close() lets events already accepted finish spilling before the journal shuts', async () => {
    // `block` keeps the overflow in flight for a while: close() arrives while it is still waiting.
    const s = await setup({ capEvents: 2, overflowPolicy: 'block', blockTimeoutMs: 300 })
    const audit = await s.open()
    const logged = Array.from({ length: 20 }, (_, i) => audit.log({ action: 'closing.burst', actor_id: `c${i}` }))
    await new Promise((resolve) => setTimeout(resolve, 50))
    await audit.close()
    const results = await Promise.allSettled(logged)
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
    expect(audit.stats()).toMatchObject({ enqueued: 2, spilled: 18, refused: 0 })
  })

  it('policy drop refuses what does not fit, tells the caller, and counts it', async () => {
    const s = await setup({ capEvents: 5, overflowPolicy: 'drop' })
    const audit = await s.open()
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => audit.log({ action: 'dropped.maybe' })))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5)
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(refused).toHaveLength(3)
    expect(refused[0]!.reason).toMatchObject({ code: 'AUDITQ_QUEUE_FULL' })
    expect((await s.monitor.readCounters()).dropped).toBe(3)
    expect(audit.stats().refused).toBe(3)
  })

  it('policy block waits for room instead of spilling', async () => {
    const s = await setup({ capEvents: 5, overflowPolicy: 'block', blockTimeoutMs: 5_000 })
    const audit = await s.open()
    await Promise.all(Array.from({ length: 5 }, () => audit.log({ action: 'fill' })))
    const waiting = audit.log({ action: 'must.wait' })
    setTimeout(() => void s.startWorker(), 200)
    await waiting
    expect(audit.stats()).toMatchObject({ spilled: 0, refused: 0 })
  })

  it('with Redis unreachable, log() neither hangs nor throws: events spill and are replayed by the next producer', async () => {
    const s = await setup()
    const down = connectRedis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null })
    down.on('error', () => undefined)
    const offline = await createAuditLogger({ store: s.t.store, logger: silent, queue: { redis: down, prefix: s.prefix, spillDir: s.spillDir } })
    const started = Date.now()
    const ids = await Promise.all(Array.from({ length: 25 }, () => offline.log({ action: 'while.redis.down' })))
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(offline.stats()).toMatchObject({ spilled: 25, queueUnavailable: 25 })
    await offline.close()
    down.disconnect()
    // A new producer process on the same spill dir adopts the journal and replays it into Redis.
    await s.open()
    await s.startWorker()
    await vi.waitFor(async () => expect(await s.storedCount()).toBe(25), { timeout: 10_000 })
    for (const id of ids) expect(await s.t.store.getById(id)).not.toBeNull()
  })
})
