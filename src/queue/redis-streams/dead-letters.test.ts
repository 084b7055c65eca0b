import type { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import type { QueueEntry } from '../queue.js'
import { connectRedis } from './connection.js'
import { RedisStreamsConsumer } from './consumer.js'
import { DeadLetterQueue } from './dead-letters.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { QueueMonitor } from './monitor.js'
import { RedisStreamsProducer } from './producer.js'

const hasRedis = await redisAvailable()

describe.skipIf(!hasRedis)('redis streams dead-letter queue', () => {
  const prefix = uniqueRedisPrefix('dlq')
  const redis: Redis = connectRedis(REDIS_URL)
  const consumers: RedisStreamsConsumer[] = []
  let queues = 0

  /** A queue with `count` events, read once by worker-a so they are pending. */
  async function queueWithPending(count: number, consumerName = 'worker-a') {
    const keys = queueKeys({ prefix, queue: `q${++queues}` })
    const events = Array.from({ length: count }, () => storedEvent())
    await new RedisStreamsProducer({ redis, keys }).enqueue(events)
    const worker = await RedisStreamsConsumer.start({ redis, keys, consumerName })
    consumers.push(worker)
    const entries = await worker.read(count, 100)
    return { keys, events, worker, entries, dlq: new DeadLetterQueue(redis, keys), monitor: new QueueMonitor(redis, keys) }
  }

  async function pendingCount(keys: QueueKeys): Promise<number> {
    const [count] = (await redis.xpending(keys.events, keys.group)) as [number, ...unknown[]]
    return count
  }

  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((worker) => worker.close()))
  })

  afterAll(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })

  it('dead-lettering moves an entry with its error atomically', async () => {
    const { keys, events, worker, entries, dlq, monitor } = await queueWithPending(3)
    const poison = entries[1]!

    expect(await worker.deadLetter([poison], 'value too long for type character varying(255)')).toBe(1)

    // Out of the main stream and its pending list, in the DLQ with its error, attempts and source.
    expect(await worker.depth()).toBe(2)
    expect(await pendingCount(keys)).toBe(2)
    const { deadLetters } = await dlq.list({ limit: 10 })
    expect(deadLetters).toHaveLength(1)
    expect(deadLetters[0]).toMatchObject({
      sourceEntryId: poison.entryId,
      event: events[1],
      error: 'value too long for type character varying(255)',
      attempts: 1,
    })
    expect(await dlq.get(deadLetters[0]!.id)).toEqual(deadLetters[0])
    expect((await monitor.readCounters()).dead_lettered).toBe(1)
  })

  it('two workers dead-lettering the same entry leave exactly one dead letter', async () => {
    const { keys, worker, entries, dlq } = await queueWithPending(20)
    const rival = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'worker-b' })
    consumers.push(rival)

    const moved = await Promise.all([worker.deadLetter(entries, 'first'), rival.deadLetter(entries, 'second')])

    expect(moved[0] + moved[1]).toBe(20)
    expect(await dlq.size()).toBe(20)
    expect(await worker.depth()).toBe(0)
    expect(await pendingCount(keys)).toBe(0)
  })

  it('dlq replay puts it back on the main stream', async () => {
    const { keys, events, worker, entries, dlq, monitor } = await queueWithPending(1)
    await worker.deadLetter(entries, 'store refused it')
    const [deadLetter] = (await dlq.list({ limit: 1 })).deadLetters

    const replayed = await dlq.replay([deadLetter!.id, '1-1' /* no such dead letter */])

    expect([...replayed.keys()]).toEqual([deadLetter!.id])
    expect(await dlq.size()).toBe(0)
    expect((await monitor.readCounters()).replayed).toBe(1)
    // Delivered afresh, as a new entry with a fresh delivery count.
    const [again] = (await worker.read(10, 100)) as QueueEntry[]
    expect({ entryId: again!.entryId, event: again!.event }).toEqual({ entryId: replayed.get(deadLetter!.id), event: events[0] })
    const [pending] = (await redis.xpending(keys.events, keys.group, '-', '+', 1)) as [string, string, number, number][]
    expect(Number(pending?.[3])).toBe(1)
    expect(await redis.xlen(keys.events)).toBe(1)
  })

  it('lists dead letters oldest first, in pages', async () => {
    const { worker, entries, dlq } = await queueWithPending(5)
    for (const entry of entries) await worker.deadLetter([entry], `error ${entry.event!.id}`)

    const first = await dlq.list({ limit: 2 })
    const second = await dlq.list({ limit: 2, after: first.next! })
    const third = await dlq.list({ limit: 2, after: second.next! })

    const pages = [first, second, third]
    expect(pages.map((page) => page.deadLetters.length)).toEqual([2, 2, 1])
    expect(third.next).toBeUndefined()
    expect(pages.flatMap((page) => page.deadLetters.map((letter) => letter.sourceEntryId))).toEqual(
      entries.map((entry) => entry.entryId),
    )
  })

  it('purges chosen dead letters, or all of them', async () => {
    const { worker, entries, dlq } = await queueWithPending(4)
    await worker.deadLetter(entries, 'broken')
    const { deadLetters } = await dlq.list({ limit: 10 })

    expect(await dlq.purge([deadLetters[0]!.id])).toBe(1)
    expect(await dlq.get(deadLetters[0]!.id)).toBeNull()
    expect(await dlq.purgeAll()).toBe(3)
    expect(await dlq.size()).toBe(0)
  })
})
