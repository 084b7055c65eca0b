/**
 * `auditq serve` in queue mode records the queue overflowing in its access trail: the whole
 * service in this process, real PostgreSQL and Redis, ingest only (no worker drains the queue), a
 * queue capped at 5 events, clients posting 30.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, REDIS_URL, uniqueSchema } from '../../test/support/services.js'
import { loadConfig } from '../config.js'
import { createLogger } from '../util/logger.js'
import { startService } from './service.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const schema = uniqueSchema('service_pause')
const prefix = uniqueRedisPrefix('service-pause')
const cleanups: (() => Promise<unknown>)[] = []

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  if (!hasServices) return
  const redis = new Redis(REDIS_URL)
  await deleteKeys(redis, prefix)
  redis.disconnect()
  await dropSchemas([schema])
})

describe.skipIf(!hasServices)('serve records queue overflow in the access trail', () => {
  it('writes one record when the overflow begins and one, with the count, when the service stops during it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'auditq-service-pause-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const config = loadConfig({
      databaseUrl: POSTGRES_URL,
      databaseSchema: schema,
      redisUrl: REDIS_URL,
      dataDir,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      queue: { prefix, capEvents: 5, overflowPolicy: 'spill', replayEveryMs: 60_000 },
      security: { rateLimitPerSecond: 0 },
    })
    const service = await startService({ role: 'serve', config, logger: createLogger({ level: 'silent' }), worker: false })
    let stopped = false
    cleanups.push(async () => (stopped ? undefined : service.stop()))
    for (let i = 0; i < 3; i++) {
      const events = Array.from({ length: 10 }, (_, n) => ({ action: 'doc.read', actor_id: `u${i}-${n}` }))
      const response = await fetch(`${service.address}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
      expect(response.status).toBe(202)
    }
    expect(await service.stop()).toBe(true)
    stopped = true

    const db = new pg.Client({ connectionString: POSTGRES_URL })
    await db.connect()
    try {
      const { rows } = await db.query<{ action: string; metadata: { what: Record<string, unknown>; aggregated?: { count: number } } }>(
        `select action, metadata from "${schema}".audit_logs where tenant_id = 'auditq' and action like 'auditq.%' order by occurred_at, received_at`,
      )
      expect(rows.map((row) => [row.action, row.metadata.what['state'] ?? null, row.metadata.what['ended'] ?? null, row.metadata.aggregated?.count ?? null])).toEqual([
        ['auditq.service.start', null, null, null],
        ['auditq.queue.overflow', 'began', null, null],
        ['auditq.queue.overflow', 'ended', 'stopped', 25],
        ['auditq.service.stop', null, null, null],
      ])
      expect(rows[1]!.metadata.what).toMatchObject({ role: 'serve', cause: 'over_cap', outcome: 'spilled', policy: 'spill' })
    } finally {
      await db.end()
    }
  }, 60_000)
})
