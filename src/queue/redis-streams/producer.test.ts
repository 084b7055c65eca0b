import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { deleteKeys, redisAvailable, startRedisServer, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import type { AuditEvent } from '../../event/types.js'
import { decodeEvent } from './codec.js'
import { connectRedis } from './connection.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { QueueMonitor } from './monitor.js'
import { RedisStreamsProducer, type RedisStreamsProducerOptions } from './producer.js'

const hasRedis = await redisAvailable()

describe.skipIf(!hasRedis)('redis streams producer', () => {
  const prefix = uniqueRedisPrefix('producer')
  const clients: Redis[] = []
  let queues = 0

  function client(): Redis {
    const redis = connectRedis(REDIS_URL)
    clients.push(redis)
    return redis
  }

  /** A queue of its own per test: same prefix (one cleanup), distinct hash tag. */
  function freshKeys(): QueueKeys {
    return queueKeys({ prefix, queue: `q${++queues}` })
  }

  function producer(keys: QueueKeys, options: Partial<RedisStreamsProducerOptions> = {}): RedisStreamsProducer {
    return new RedisStreamsProducer({ redis: client(), keys, ...options })
  }

  async function streamEventIds(keys: QueueKeys): Promise<string[]> {
    const entries = await clients[0]!.xrange(keys.events, '-', '+')
    return entries.map(([, fields]) => decodeEvent(fields[1]!)!.id)
  }

  afterAll(async () => {
    const redis = client()
    await deleteKeys(redis, prefix)
    for (const redis of clients) redis.disconnect()
  })

  it('enqueues 10,000 events from 128 concurrent callers in few round trips', async () => {
    const keys = freshKeys()
    const queue = producer(keys)
    const perCaller = Array.from({ length: 128 }, (_, caller) =>
      Array.from({ length: caller < 16 ? 79 : 78 }, () => storedEvent({ actor_id: `caller-${caller}` })),
    )
    expect(perCaller.flat()).toHaveLength(10_000)

    // Each caller logs its events one by one, waiting for each, as 128 request handlers would.
    await Promise.all(
      perCaller.map(async (events) => {
        for (const event of events) expect(await queue.enqueue([event])).toEqual({ enqueued: [event.id], overCap: [] })
      }),
    )

    // 10,000 calls shared ~79 script calls: one per turn in which the 128 callers were waiting.
    expect(queue.scriptCalls).toBeLessThanOrEqual(200)
    const stored = await streamEventIds(keys)
    expect(stored).toHaveLength(10_000)
    // Each caller's events are in the stream in the order that caller sent them.
    const position = new Map(stored.map((id, index) => [id, index]))
    for (const events of perCaller) {
      const positions = events.map((event) => position.get(event.id)!)
      expect(positions).toEqual([...positions].sort((a, b) => a - b))
    }
  })

  it('refuses events past the cap and counts them as overflow, atomically under concurrent producers', async () => {
    const keys = freshKeys()
    const producers = Array.from({ length: 5 }, () => producer(keys, { capEvents: 1_000 }))
    const sent: AuditEvent[] = []
    const results = await Promise.all(
      producers.map(async (queue) => {
        const outcomes = []
        for (let call = 0; call < 30; call++) {
          const events = Array.from({ length: 10 }, () => storedEvent())
          sent.push(...events)
          outcomes.push(await queue.enqueue(events))
        }
        return outcomes
      }),
    )

    const enqueued = results.flat().flatMap((result) => result.enqueued)
    const overCap = results.flat().flatMap((result) => result.overCap.map((event) => event.id))
    expect(enqueued).toHaveLength(1_000)
    expect(overCap).toHaveLength(500)
    // Every event is in exactly one of the two lists, and the stream holds exactly the enqueued ones.
    expect(new Set([...enqueued, ...overCap]).size).toBe(1_500)
    expect(new Set(await streamEventIds(keys))).toEqual(new Set(enqueued))
    expect((await new QueueMonitor(client(), keys).readCounters()).overflow).toBe(500)
  })

  it('splits a bulk larger than one script call and still fills up to the cap in order', async () => {
    const keys = freshKeys()
    const queue = producer(keys, { capEvents: 2_200, maxEventsPerCall: 1_000 })
    const events = Array.from({ length: 2_500 }, () => storedEvent())

    const result = await queue.enqueue(events)

    expect(queue.scriptCalls).toBe(3)
    expect(result.enqueued).toEqual(events.slice(0, 2_200).map((event) => event.id))
    expect(result.overCap.map((event) => event.id)).toEqual(events.slice(2_200).map((event) => event.id))
    expect(await streamEventIds(keys)).toEqual(result.enqueued)
  })

  it('makes room again once entries are acknowledged and deleted', async () => {
    const keys = freshKeys()
    const queue = producer(keys, { capEvents: 3 })
    const first = await queue.enqueue([storedEvent(), storedEvent(), storedEvent(), storedEvent()])
    expect(first.overCap).toHaveLength(1)

    const [oldest] = await clients[0]!.xrange(keys.events, '-', '+', 'COUNT', 1)
    await clients[0]!.xdel(keys.events, oldest![0])

    expect((await queue.enqueue(first.overCap)).enqueued).toEqual([first.overCap[0]!.id])
  })

  it('tells the caller when Redis did not confirm, with a stable code', async () => {
    const server = await startRedisServer()
    try {
      const redis = connectRedis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
      redis.on('error', () => undefined) // The refused reconnect is the point of this test.
      clients.push(redis)
      await new Promise((resolve) => redis.once('ready', resolve))
      const queue = new RedisStreamsProducer({ redis, keys: freshKeys() })
      await server.kill()

      await expect(queue.enqueue([storedEvent()])).rejects.toMatchObject({ code: 'AUDITQ_QUEUE_UNAVAILABLE', enqueued: [] })
    } finally {
      await server.destroy()
    }
  })

  it('after close, waits for calls in flight and refuses new ones', async () => {
    const keys = freshKeys()
    const queue = producer(keys)
    const inFlight = queue.enqueue([storedEvent()])
    await queue.close()

    expect((await inFlight).enqueued).toHaveLength(1)
    await expect(queue.enqueue([storedEvent()])).rejects.toMatchObject({ code: 'AUDITQ_CLOSED' })
  })
})
