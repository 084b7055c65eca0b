import type { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import { connectRedis } from './connection.js'
import { RedisStreamsConsumer } from './consumer.js'
import { DeadLetterQueue } from './dead-letters.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { RedisStreamsProducer } from './producer.js'

const hasRedis = await redisAvailable()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!hasRedis)('redis streams consumer', () => {
  const prefix = uniqueRedisPrefix('consumer')
  const redis: Redis = connectRedis(REDIS_URL)
  const consumers: RedisStreamsConsumer[] = []
  let queues = 0

  function freshKeys(): QueueKeys {
    return queueKeys({ prefix, queue: `q${++queues}` })
  }

  async function consumer(keys: QueueKeys, consumerName = 'worker-a'): Promise<RedisStreamsConsumer> {
    const started = await RedisStreamsConsumer.start({ redis, keys, consumerName })
    consumers.push(started)
    return started
  }

  /** How many times Redis has handed out each pending entry (XPENDING's delivery count), by entry id. */
  async function deliveryCounts(keys: QueueKeys): Promise<Map<string, number>> {
    const pending = (await redis.xpending(keys.events, keys.group, '-', '+', 1_000)) as [string, string, number, number][]
    return new Map(pending.map(([entryId, , , count]) => [entryId, Number(count)]))
  }

  async function enqueue(keys: QueueKeys, count: number): Promise<string[]> {
    const producer = new RedisStreamsProducer({ redis, keys })
    const events = Array.from({ length: count }, (_, index) => storedEvent({ actor_id: `actor-${index}` }))
    return (await producer.enqueue(events)).enqueued
  }

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((started) => started.close()))
  })

  afterAll(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })

  it('delivers events enqueued before the first worker ever started', async () => {
    const keys = freshKeys()
    const ids = await enqueue(keys, 3)
    const worker = await consumer(keys)

    const entries = await worker.read(10, 100)

    expect(entries.map((entry) => entry.event!.id)).toEqual(ids)
    const counts = await deliveryCounts(keys)
    expect(entries.every((entry) => counts.get(entry.entryId) === 1)).toBe(true)
  })

  it('acknowledged entries are deleted; unacknowledged ones stay pending', async () => {
    const keys = freshKeys()
    await enqueue(keys, 4)
    const worker = await consumer(keys)
    const [first, second, third, fourth] = await worker.read(10, 100)

    expect(await worker.ack([first!.entryId, second!.entryId])).toBe(2)

    // Gone from the stream, so they no longer count against the cap …
    expect(await redis.xlen(keys.events)).toBe(2)
    expect(await worker.depth()).toBe(2)
    // … while the other two are still pending, owned by this worker, waiting for their commit.
    const pending = (await redis.xpending(keys.events, keys.group, '-', '+', 10)) as [string, string, number, number][]
    expect(pending.map(([entryId, owner]) => [entryId, owner])).toEqual([
      [third!.entryId, 'worker-a'],
      [fourth!.entryId, 'worker-a'],
    ])
    // Acking again is harmless: it was already acknowledged and deleted.
    expect(await worker.ack([first!.entryId])).toBe(0)
  })

  it('never deletes an entry that was not delivered, even when asked to ack it', async () => {
    const keys = freshKeys()
    await enqueue(keys, 1)
    const worker = await consumer(keys)
    const [entry] = await redis.xrange(keys.events, '-', '+')

    expect(await worker.ack([entry![0]])).toBe(0)
    expect(await worker.depth()).toBe(1)
  })

  it('a consumer that died is claimed from after the idle timeout', async () => {
    const keys = freshKeys()
    const ids = await enqueue(keys, 5)
    const dying = await consumer(keys, 'worker-dies')
    expect(await dying.read(10, 100)).toHaveLength(5)
    await dying.close() // Killed mid-batch: read, never acked.

    const survivor = await consumer(keys, 'worker-b')
    expect(await survivor.read(10, 50)).toEqual([])
    expect(await survivor.claimStale(300, 100)).toEqual([])

    await sleep(350)
    const claimed = await survivor.claimStale(300, 100)
    expect(claimed.map((entry) => entry.event!.id)).toEqual(ids)
    const counts = await deliveryCounts(keys)
    expect(claimed.every((entry) => counts.get(entry.entryId) === 2)).toBe(true)

    await survivor.ack(claimed.map((entry) => entry.entryId))
    expect(await survivor.depth()).toBe(0)
  })

  it('a restarted worker reads back its own pending entries at once, without waiting for the idle timeout', async () => {
    const keys = freshKeys()
    await enqueue(keys, 5)
    const firstRun = await consumer(keys, 'host-2')
    expect(await firstRun.read(3, 100)).toHaveLength(3)
    await firstRun.close()

    const secondRun = await consumer(keys, 'host-2')
    const own = await secondRun.recoverOwnPending(2)
    const rest = await secondRun.recoverOwnPending(10)
    expect(own).toHaveLength(2)
    expect(rest).toHaveLength(1)
    expect(await secondRun.recoverOwnPending(10)).toEqual([])
    // The two never-read entries are still there for a normal read.
    expect(await secondRun.read(10, 100)).toHaveLength(2)
    await secondRun.ack([...own, ...rest].map((entry) => entry.entryId))
  })

  it('a restarted worker claims back its own pending entries', async () => {
    const keys = freshKeys()
    await enqueue(keys, 2)
    const firstRun = await consumer(keys, 'host-1')
    await firstRun.read(10, 100)
    await firstRun.close()

    const secondRun = await consumer(keys, 'host-1')
    await sleep(60)
    expect(await secondRun.claimStale(50, 100)).toHaveLength(2)
  })

  it('an entry claimed back again and again reaches the dead-letter queue with every delivery counted as an attempt', async () => {
    const keys = freshKeys()
    await enqueue(keys, 1)
    const worker = await consumer(keys)
    await worker.read(1, 100)

    const counts: number[] = []
    let entry
    for (let attempt = 0; attempt < 3; attempt++) {
      await sleep(30)
      ;[entry] = await worker.claimStale(20, 10)
      counts.push((await deliveryCounts(keys)).get(entry!.entryId)!)
    }
    expect(counts).toEqual([2, 3, 4])
    await worker.deadLetter([entry!], 'store refused it')
    const { deadLetters } = await new DeadLetterQueue(redis, keys).list({ limit: 1 })
    expect(deadLetters[0]?.attempts).toBe(4)
  })

  it('pages through a long pending list without losing its place', async () => {
    const keys = freshKeys()
    await enqueue(keys, 250)
    const dying = await consumer(keys, 'worker-dies')
    expect(await dying.read(250, 100)).toHaveLength(250)
    await sleep(30)

    const survivor = await consumer(keys, 'worker-b')
    const pages = [await survivor.claimStale(20, 100), await survivor.claimStale(20, 100), await survivor.claimStale(20, 100)]

    expect(pages.map((page) => page.length)).toEqual([100, 100, 50])
    expect(new Set(pages.flat().map((entry) => entry.entryId)).size).toBe(250)
  })

  it('sends an entry that is not an audit event to the dead-letter queue instead of the worker', async () => {
    const keys = freshKeys()
    const [good] = await enqueue(keys, 1)
    await redis.xadd(keys.events, '*', 'event', '{not json')
    const worker = await consumer(keys)

    const entries = await worker.read(10, 100)

    expect(entries.map((entry) => entry.event!.id)).toEqual([good])
    const { deadLetters } = await new DeadLetterQueue(redis, keys).list({ limit: 10 })
    expect(deadLetters).toMatchObject([{ payload: '{not json', event: null, attempts: 1 }])
    expect(deadLetters[0]!.error).toMatch(/undecodable/)
  })

  it('recreates its group when the stream vanished (Redis restarted empty)', async () => {
    const keys = freshKeys()
    const worker = await consumer(keys)
    await redis.del(keys.events)
    const [id] = await enqueue(keys, 1)

    expect((await worker.read(10, 100)).map((entry) => entry.event!.id)).toEqual([id])
  })

  it('a blocked read waits for events without holding acks behind it', async () => {
    const keys = freshKeys()
    await enqueue(keys, 1)
    const worker = await consumer(keys)
    const [entry] = await worker.read(10, 100)

    const blocked = worker.read(10, 2_000)
    const started = Date.now()
    await worker.ack([entry!.entryId])
    expect(Date.now() - started).toBeLessThan(500)

    // The blocked read wakes up as soon as something arrives.
    const [id] = await enqueue(keys, 1)
    expect((await blocked).map((delivered) => delivered.event!.id)).toEqual([id])
  })

  it('reports how deep the queue is and how old its oldest entry', async () => {
    const keys = freshKeys()
    const worker = await consumer(keys)
    expect(await worker.oldestAgeMs()).toBe(0)

    await enqueue(keys, 3)
    await sleep(120)

    expect(await worker.depth()).toBe(3)
    expect(await worker.oldestAgeMs()).toBeGreaterThanOrEqual(100)
    expect(await worker.oldestAgeMs()).toBeLessThan(5_000)
  })
})
