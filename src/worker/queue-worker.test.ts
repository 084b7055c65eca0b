/**
 * The drain loop against a real Redis stream and real stores: what goes in comes out once, poison
 * is isolated into the dead-letter queue, orphaned entries are claimed, outages are waited out.
 */
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { connectRedis, queueKeys, RedisStreamsConsumer, RedisStreamsProducer, type QueueKeys } from '../queue/redis-streams/index.js'
import type { Store } from '../store/store.js'
import { createLogger } from '../util/logger.js'
import { QueueWorker, type BatchReport } from './queue-worker.js'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

describe.skipIf(!hasRedis)('queue worker', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function queue() {
    const prefix = uniqueRedisPrefix('worker')
    const redis: Redis = connectRedis(REDIS_URL)
    const keys: QueueKeys = queueKeys({ prefix })
    const producer = new RedisStreamsProducer({ redis, keys, capEvents: 1_000_000 })
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })
    const consumer = async (name: string) => {
      const started = await RedisStreamsConsumer.start({ redis, keys, consumerName: name })
      cleanups.push(() => started.close())
      return started
    }
    return { redis, keys, producer, consumer }
  }

  async function embedded(): Promise<TestStore> {
    const t = await freshStore('embedded')
    cleanups.push(() => t.dispose())
    return t
  }

  function worker(consumer: RedisStreamsConsumer, store: Store, extra: Partial<ConstructorParameters<typeof QueueWorker>[0]> = {}) {
    const reports: BatchReport[] = []
    const instance = new QueueWorker({
      consumer,
      store,
      logger: silent,
      flushIntervalMs: 50,
      idleBlockMs: 50,
      onBatch: (report) => reports.push(report),
      ...extra,
    })
    cleanups.push(async () => void (await instance.stop(5_000)))
    return { instance, reports }
  }

  async function storedIds(store: Store): Promise<string[]> {
    const ids: string[] = []
    for await (const event of store.stream({})) ids.push(event.id)
    return ids
  }

  it('drains 5,000 queued events into the store exactly once and empties the queue', async () => {
    const q = await queue()
    const t = await embedded()
    const events = Array.from({ length: 5_000 }, () => storedEvent())
    await q.producer.enqueue(events)
    const { instance, reports } = worker(await q.consumer('w1'), t.store)
    instance.start()
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.events)).toBe(0), { timeout: 20_000, interval: 100 })
    const ids = await storedIds(t.store)
    expect(ids).toHaveLength(5_000)
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)))
    // A 5,000 backlog is read in the large tier, not 100 at a time. (A batch's report is handed
    // over after its entries are acknowledged, so the last one may trail the empty queue.)
    await vi.waitFor(() => expect(reports.reduce((n, r) => n + r.stored, 0)).toBe(5_000), { timeout: 5_000 })
    expect(Math.max(...reports.map((r) => r.size))).toBeGreaterThan(100)
  })

  it('moves an event the store refuses to the dead-letter queue and stores its batch-mates', async () => {
    const q = await queue()
    const t = await embedded()
    const poison = storedEvent({ category: 'bogus' as AuditEvent['category'] })
    const batch = [storedEvent(), storedEvent(), poison, storedEvent()]
    await q.producer.enqueue(batch)
    const { instance } = worker(await q.consumer('w1'), t.store)
    instance.start()
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.deadLetters)).toBe(1), { timeout: 10_000 })
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.events)).toBe(0), { timeout: 10_000 })
    expect((await storedIds(t.store)).sort()).toEqual(batch.filter((e) => e !== poison).map((e) => e.id).sort())
    const deadLetters = await q.redis.xrange(q.keys.deadLetters, '-', '+')
    expect(deadLetters[0]![1].join(' ')).toMatch(/CHECK|constraint|category/i)
  })

  it("records a numbered event's producer number before dead-lettering it, and keeps it pending while the store cannot take the record", async () => {
    const q = await queue()
    const t = await embedded()
    // The real store, but its first two attempts to take a dead-letter record fail as if the
    // connection dropped (a transient error): the entry must not reach the DLQ without its record.
    let refusals = 2
    const injected = new Error('connection reset while writing the dead-letter record')
    const store = new Proxy(t.store, {
      get(target, prop) {
        if (prop === 'insertBatch')
          return async (events: readonly AuditEvent[]) => {
            if (events.some((e) => e.action === 'auditq.producer.dead_lettered') && refusals-- > 0) throw injected
            return target.insertBatch(events)
          }
        if (prop === 'classifyError') return (error: unknown) => (error === injected ? 'transient' : target.classifyError(error))
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    const numbered = (seq: number, extra: Partial<AuditEvent> = {}) => storedEvent({ producer_id: 'app-1', producer_seq: seq, ...extra })
    const poison = numbered(2, { category: 'bogus' as AuditEvent['category'] })
    const mates = [numbered(1), numbered(3)]
    await q.producer.enqueue([mates[0]!, poison, mates[1]!])
    const { instance, reports } = worker(await q.consumer('w1'), store, { retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 50 } })
    instance.start()
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.deadLetters)).toBe(1), { timeout: 10_000 })
    // The entry reaches the DLQ inside the batch's write; its report is handed over when the write ends.
    await vi.waitFor(() => expect(reports.some((r) => r.deadLettered === 1)).toBe(true), { timeout: 10_000 })
    expect(refusals).toBeLessThan(0)
    expect(reports.reduce((n, r) => n + r.failedAttempts, 0)).toBeGreaterThanOrEqual(2)
    const report = await t.store.completeness!.accountingRecords({ producer_id: 'app-1' })
    expect(report).toEqual([
      expect.objectContaining({ kind: 'dead_lettered', producer_id: 'app-1', ranges: [{ from: 2, to: 2, rule: expect.stringMatching(/CHECK|constraint|category/i) }] }),
    ])
    // Stored: the two batch-mates and the record; never the poison.
    const ids = await storedIds(t.store)
    expect(ids).toHaveLength(3)
    expect(ids).toEqual(expect.arrayContaining(mates.map((e) => e.id)))
  })

  it('claims what a dead worker read but never acknowledged, and stores each event once', async () => {
    const q = await queue()
    const t = await embedded()
    const events = Array.from({ length: 300 }, () => storedEvent())
    await q.producer.enqueue(events)
    // "Dead" worker: reads entries into its pending list and then never writes or acknowledges.
    const dead = await q.consumer('dead')
    expect(await dead.read(200, 10)).toHaveLength(200)
    const { instance } = worker(await q.consumer('alive'), t.store, { claimIdleMs: 200, claimEveryMs: 100 })
    instance.start()
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.events)).toBe(0), { timeout: 15_000, interval: 100 })
    const ids = await storedIds(t.store)
    expect(ids).toHaveLength(300)
    expect(new Set(ids).size).toBe(300)
  })

  it('restarted under the same consumer name, finishes what its previous life left pending without waiting for the idle timeout', async () => {
    const q = await queue()
    const t = await embedded()
    await q.producer.enqueue(Array.from({ length: 150 }, () => storedEvent()))
    const previousLife = await q.consumer('host-w0')
    expect(await previousLife.read(150, 10)).toHaveLength(150)
    await previousLife.close()
    // claimIdleMs of an hour: only recovering its own pending list can land these quickly.
    const { instance } = worker(await q.consumer('host-w0'), t.store, { claimIdleMs: 3_600_000 })
    instance.start()
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.events)).toBe(0), { timeout: 5_000, interval: 50 })
    expect(await storedIds(t.store)).toHaveLength(150)
  })

  it('waits out a store outage with backoff, then lands every event', async () => {
    const q = await queue()
    const store = new MemoryStore()
    store.down = true
    const events = Array.from({ length: 120 }, () => storedEvent())
    await q.producer.enqueue(events)
    const { instance, reports } = worker(await q.consumer('w1'), store, {
      retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 50 },
    })
    instance.start()
    await vi.waitFor(() => expect(store.batchSizes.length).toBeGreaterThanOrEqual(4), { timeout: 5_000 })
    expect(store.rows.size).toBe(0)
    expect(await q.redis.xlen(q.keys.events)).toBe(120)
    store.down = false
    await vi.waitFor(async () => expect(await q.redis.xlen(q.keys.events)).toBe(0), { timeout: 10_000 })
    expect(store.rows.size).toBe(120)
    expect(await q.redis.xlen(q.keys.deadLetters)).toBe(0)
    await vi.waitFor(() => expect(reports.some((r) => r.failedAttempts >= 3)).toBe(true), { timeout: 5_000 })
  })

  it('a store that answers pings but refuses the insert (a locked table) still gets the whole backoff between attempts', async () => {
    const q = await queue()
    // Inserts fail as if the table were locked; pings answer all along, so the store never "came back".
    const store = new MemoryStore()
    store.insertBatch = async () => {
      throw new Error('canceling statement due to statement timeout')
    }
    await q.producer.enqueue(Array.from({ length: 10 }, () => storedEvent()))
    const failures: number[] = []
    const { instance } = worker(await q.consumer('w1'), store, {
      retry: { attempts: 3, initialDelayMs: 800, maxDelayMs: 800 },
      storeProbeEveryMs: 50,
      onFailedAttempt: () => failures.push(Date.now()),
    })
    instance.start()
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    await instance.stop(2_000)
    // Backoff of 400–800 ms: at most 4 attempts in 1.5 s. Cut short by every answered ping, ~30.
    expect(failures.length).toBeGreaterThanOrEqual(1)
    expect(failures.length).toBeLessThanOrEqual(4)
  })

  it('on stop, writes and acknowledges what it buffered before resolving', async () => {
    const q = await queue()
    const t = await embedded()
    await q.producer.enqueue(Array.from({ length: 40 }, () => storedEvent()))
    // A long flush interval keeps the entries buffered until stop() forces the write.
    const { instance } = worker(await q.consumer('w1'), t.store, { flushIntervalMs: 60_000 })
    instance.start()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await storedIds(t.store)).toHaveLength(0)
    expect(await instance.stop(5_000)).toEqual({ drained: true })
    expect(await storedIds(t.store)).toHaveLength(40)
    expect(await q.redis.xlen(q.keys.events)).toBe(0)
  })
})
