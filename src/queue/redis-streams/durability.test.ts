import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { redisServerAvailable, startRedisServer, type RedisTestServer } from '../../../test/support/redis-server.js'
import { connectRedis } from './connection.js'
import { describeDurability, readDurability, type PersistenceSettings } from './durability.js'
import { queueKeys } from './keys.js'
import { RedisStreamsProducer } from './producer.js'

const settings = (overrides: Partial<PersistenceSettings>): PersistenceSettings => ({
  appendonly: 'no',
  appendfsync: 'everysec',
  save: '',
  maxmemoryPolicy: 'noeviction',
  ...overrides,
})

describe('durability report', () => {
  it('says a crash loses everything queued when Redis persists nothing', () => {
    expect(describeDurability(settings({})).lossWindow).toBe('everything-queued')
  })

  it('says a crash loses about a second with AOF and fsync every second', () => {
    expect(describeDurability(settings({ appendonly: 'yes', appendfsync: 'everysec' })).lossWindow).toBe('about-1s')
  })

  it('says a crash loses nothing with AOF and fsync always', () => {
    const report = describeDurability(settings({ appendonly: 'yes', appendfsync: 'always', save: '3600 1' }))
    expect(report.lossWindow).toBe('nothing')
    expect(report.summary).toMatch(/loses nothing/)
  })

  it('tells snapshots apart from no persistence, and AOF without fsync from AOF with it', () => {
    expect(describeDurability(settings({ save: '3600 1 300 100' })).lossWindow).toBe('since-last-snapshot')
    expect(describeDurability(settings({ appendonly: 'yes', appendfsync: 'no' })).lossWindow).toBe('os-flush-interval')
  })

  it('counts only allkeys-* policies as evicting the queue', () => {
    expect(describeDurability(settings({ maxmemoryPolicy: 'allkeys-lru' })).evictsQueue).toBe(true)
    expect(describeDurability(settings({ maxmemoryPolicy: 'volatile-lru' })).evictsQueue).toBe(false)
    expect(describeDurability(settings({ maxmemoryPolicy: 'noeviction' })).evictsQueue).toBe(false)
  })
})

const hasRedisServer = redisServerAvailable()

describe.skipIf(!hasRedisServer)('durability of a real redis-server', () => {
  const servers: RedisTestServer[] = []
  const clients: Redis[] = []

  async function server(args: string[]): Promise<{ server: RedisTestServer; redis: Redis }> {
    const started = await startRedisServer({ args })
    servers.push(started)
    const redis = connectRedis(started.url)
    redis.on('error', () => undefined) // Refused reconnects after a deliberate crash.
    clients.push(redis)
    return { server: started, redis }
  }

  afterAll(async () => {
    for (const redis of clients) redis.disconnect()
    await Promise.all(servers.map((started) => started.destroy()))
  })

  it('reports an evicting maxmemory-policy', async () => {
    const { redis } = await server(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])

    const report = await readDurability(redis)

    expect(report.evictsQueue).toBe(true)
    expect(report.summary).toMatch(/allkeys-lru may evict/)
  })

  it('reads the persistence of a server started with --appendonly yes', async () => {
    const { redis } = await server(['--appendonly', 'yes', '--appendfsync', 'everysec'])

    expect(await readDurability(redis)).toMatchObject({
      settings: { appendonly: 'yes', appendfsync: 'everysec', save: '', maxmemoryPolicy: 'noeviction' },
      lossWindow: 'about-1s',
      evictsQueue: false,
    })
  })

  it('says "unknown" when CONFIG is disabled, as on managed Redis', async () => {
    const { redis } = await server(['--rename-command', 'CONFIG', ''])

    expect(await readDurability(redis)).toMatchObject({ settings: null, lossWindow: 'unknown', evictsQueue: 'unknown' })
  })

  it('keeps every acknowledged event through a Redis crash with fsync always, and none without persistence', async () => {
    const keys = queueKeys({ queue: 'crash' })
    const outcomes: Record<string, number> = {}
    for (const args of [['--appendonly', 'yes', '--appendfsync', 'always'], []]) {
      const { server: redisServer, redis } = await server(args)
      const accepted = await new RedisStreamsProducer({ redis, keys }).enqueue(Array.from({ length: 500 }, () => storedEvent()))
      expect(accepted.enqueued).toHaveLength(500)
      const report = await readDurability(redis)

      await redisServer.kill()
      await redisServer.restart()
      const afterCrash = connectRedis(redisServer.url)
      afterCrash.on('error', () => undefined)
      clients.push(afterCrash)
      outcomes[report.lossWindow] = await afterCrash.xlen(keys.events)
    }
    expect(outcomes).toEqual({ nothing: 500, 'everything-queued': 0 })
  })
})
