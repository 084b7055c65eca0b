import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import { createLogger } from '../../util/logger.js'
import { connectRedis } from './connection.js'
import { RedisStreamsConsumer } from './consumer.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { RedisStreamsProducer } from './producer.js'
import { acknowledgeLosses, readLosses, RedisResetWatch } from './reset-watch.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

// Keys are deleted under a prefix of their own: the shared Redis is never flushed.
describe.skipIf(!hasRedis)('Redis reset watch', () => {
  const prefix = uniqueRedisPrefix('reset')
  const redis: Redis = connectRedis(REDIS_URL)
  let queues = 0
  const freshKeys = (): QueueKeys => queueKeys({ prefix, queue: `q${++queues}` })
  const enqueue = (keys: QueueKeys, count: number) => new RedisStreamsProducer({ redis, keys }).enqueue(Array.from({ length: count }, () => storedEvent()))
  const watch = (keys: QueueKeys, outcomes: string[] = []) => new RedisResetWatch({ redis, keys, logger: silent, source: 'test', onReset: (outcome) => outcomes.push(outcome) })

  afterAll(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })

  it("reports the queue's keys vanishing without a restart (FLUSHDB) as a loss of what the stream held", async () => {
    const keys = freshKeys()
    const outcomes: string[] = []
    const w = watch(keys, outcomes)
    await enqueue(keys, 30)
    expect(await w.check()).toEqual({ kind: 'none' })
    await redis.del(keys.events, keys.identity, keys.counters)
    const outcome = await w.check()
    expect(outcome).toMatchObject({ kind: 'lost', loss: { cause: 'keys-vanished', eventsExposed: 30 } })
    expect(outcomes).toEqual(['data_lost'])
    // Only once: the next look compares with the new identity.
    expect(await w.check()).toEqual({ kind: 'none' })
    expect(await readLosses(redis, keys)).toHaveLength(1)
  })

  it('another process sees the same loss by the changed identity, and the records merge into one', async () => {
    const keys = freshKeys()
    const [first, second] = [watch(keys), watch(keys)]
    await enqueue(keys, 12)
    await first.check()
    await second.check()
    await redis.del(keys.events, keys.identity)
    expect((await first.check()).kind).toBe('lost')
    expect((await second.check()).kind).toBe('lost')
    expect(await readLosses(redis, keys)).toMatchObject([{ eventsExposed: 12 }])
  })

  it('writes an unacknowledged loss back when Redis loses the record too, and drops it once acknowledged', async () => {
    const keys = freshKeys()
    const w = watch(keys)
    await enqueue(keys, 5)
    await w.check()
    await redis.del(keys.events, keys.identity)
    const { loss } = (await w.check()) as { kind: 'lost'; loss: { id: string } }
    // Redis loses everything again, the record with it: the process's copy restores it.
    await redis.del(keys.losses, keys.identity)
    expect((await w.losses()).map((l) => l.id)).toContain(loss.id)
    expect((await readLosses(redis, keys)).map((l) => l.id)).toContain(loss.id)

    const acked = await acknowledgeLosses(redis, keys, 'all')
    expect(acked.map((l) => l.id)).toContain(loss.id)
    expect(await w.losses()).toEqual([])
    expect(w.known()).toEqual([])
    expect(await readLosses(redis, keys)).toEqual([])
  })

  it('a consumer whose group vanished reports it before recreating the group, with the length seen before', async () => {
    const keys = freshKeys()
    const w = watch(keys)
    const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'c1', onGroupMissing: () => w.groupVanished() })
    try {
      await enqueue(keys, 7)
      await w.check()
      // Only the stream goes (its group with it); the identity stays.
      await redis.del(keys.events)
      expect(await consumer.read(10, 0)).toEqual([])
      expect(await readLosses(redis, keys)).toMatchObject([{ cause: 'group-vanished', eventsExposed: 7 }])
    } finally {
      await consumer.close()
    }
  })
})
