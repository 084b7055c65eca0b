import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { queueStatusReader } from '../queue/queue-status.js'
import { connectRedis, describeDurability } from '../queue/redis-streams/index.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime } from '../worker/runtime.js'
import { buildServer } from './server.js'
import { freshStore } from '../../test/support/app.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

describe.skipIf(!hasRedis)('health in queue mode', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('is degraded (503) with no live worker, healthy once one beats, and says what a Redis crash loses', async () => {
    const prefix = uniqueRedisPrefix('health')
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-health-'))
    const config = loadConfig({ logLevel: 'silent', redisUrl: REDIS_URL, queue: { prefix }, worker: { heartbeatEveryMs: 200 } })
    const redis = connectRedis(REDIS_URL)
    const t = await freshStore('embedded')
    const audit = await createAuditLogger({ store: t.store, logger: silent, queue: { redis, prefix, spillDir } })
    const durability = describeDurability({ appendonly: 'no', appendfsync: 'everysec', save: '', maxmemoryPolicy: 'noeviction' })
    const app = await buildServer({ config, audit, logger: silent, queueStatus: queueStatusReader(redis, config, durability) })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
      await deleteKeys(redis, prefix)
      redis.disconnect()
      rmSync(spillDir, { recursive: true, force: true })
    })

    const before = await app.inject('/api/v1/monitoring/health')
    expect(before.statusCode).toBe(503)
    expect(before.json()).toMatchObject({
      status: 'degraded',
      services: { store: 'connected', redis: 'connected', audit_worker: 'not running' },
      pipeline: { mode: 'queue', live_workers: 0, redis_crash_loses: 'everything-queued' },
    })
    expect(before.json().issues).toEqual([expect.stringMatching(/no live queue worker/)])

    const runtime = await startWorkerRuntime({ config, store: t.store, redis, logger: silent, workerId: 'health-w1' })
    cleanups.push(async () => void (await runtime.stop()))
    const after = await app.inject('/api/v1/monitoring/health')
    expect(after.statusCode).toBe(200)
    expect(after.json()).toMatchObject({ status: 'healthy', services: { audit_worker: 'running' }, pipeline: { live_workers: 1 } })
  })

  it('with stream shards, gives the totals and the part of each shard', async () => {
    const prefix = uniqueRedisPrefix('health-shards')
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-health-'))
    const config = loadConfig({ logLevel: 'silent', redisUrl: REDIS_URL, queue: { prefix, shards: 2 } })
    const redis = connectRedis(REDIS_URL)
    const t = await freshStore('embedded')
    const audit = await createAuditLogger({ store: t.store, logger: silent, queue: { redis, prefix, spillDir, shards: 2 } })
    const app = await buildServer({ config, audit, logger: silent, queueStatus: queueStatusReader(redis, config) })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
      await deleteKeys(redis, prefix)
      redis.disconnect()
      rmSync(spillDir, { recursive: true, force: true })
    })
    for (let i = 0; i < 6; i++) await audit.log({ tenant_id: 'acme', action: 'health.shards', actor_id: `u${i}` })
    const body = (await app.inject('/api/v1/monitoring/health')).json() as { pipeline: { queue_length: number; shards: { shard: string; current: boolean; length: number; pending: number }[] } }
    expect(body.pipeline.queue_length).toBe(6)
    expect(body.pipeline.shards.map((shard) => [shard.shard.startsWith('default'), shard.current, shard.length, shard.pending])).toEqual([
      [true, true, 3, 0],
      [true, true, 3, 0],
    ])
  })
})
