import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import { connectRedis } from './connection.js'
import { queueKeys } from './keys.js'
import { QueueMonitor } from './monitor.js'

const hasRedis = await redisAvailable()

describe.skipIf(!hasRedis)('redis streams heartbeats and counters', () => {
  const prefix = uniqueRedisPrefix('monitor')
  const clients: Redis[] = [connectRedis(REDIS_URL), connectRedis(REDIS_URL)]
  let queues = 0

  const freshKeys = () => queueKeys({ prefix, queue: `q${++queues}` })

  afterAll(async () => {
    await deleteKeys(clients[0]!, prefix)
    for (const redis of clients) redis.disconnect()
  })

  it('a worker is live while its heartbeat lasts, and its figures are visible to everyone', async () => {
    const keys = freshKeys()
    const worker = new QueueMonitor(clients[0]!, keys)
    const dashboard = new QueueMonitor(clients[1]!, keys)

    await worker.publishHeartbeat('worker-1', { eventsPerSecond: 1200, batchSize: 500 }, 200)
    await worker.publishHeartbeat('worker-2', { eventsPerSecond: 900, batchSize: 250 }, 10_000)

    const live = await dashboard.liveWorkers()
    expect(live.map((worker) => worker.workerId).sort()).toEqual(['worker-1', 'worker-2'])
    expect(live.find((worker) => worker.workerId === 'worker-1')?.figures).toEqual({ eventsPerSecond: 1200, batchSize: 500 })
    expect(Date.parse(live[0]!.lastHeartbeatAt)).toBeGreaterThan(Date.now() - 5_000)

    // worker-1 stops beating: once its TTL runs out it is no longer live.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await dashboard.liveWorkers()).map((worker) => worker.workerId)).toEqual(['worker-2'])
  })

  it('counters are shared across producers and start at zero', async () => {
    const keys = freshKeys()
    const [one, two] = clients.map((redis) => new QueueMonitor(redis, keys))

    expect(await one!.readCounters()).toEqual({ overflow: 0, spilled: 0, dropped: 0, dead_lettered: 0, replayed: 0 })
    await Promise.all([one!.incrementCounter('spilled', 3), two!.incrementCounter('spilled'), two!.incrementCounter('dropped', 2)])

    expect(await one!.readCounters()).toMatchObject({ spilled: 4, dropped: 2 })
  })
})
