/**
 * The whole service, in this process: queue mode against the real PostgreSQL and Redis, stopped
 * while clients are still posting, then drained by a worker started the same way. What a client
 * was told was accepted is stored exactly once; every component stopped cleanly, in reverse order.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, REDIS_URL, uniqueSchema } from '../../test/support/services.js'
import { loadConfig, type Config } from '../config.js'
import { createLogger } from '../util/logger.js'
import { startService, type RunningService } from './service.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const logger = createLogger({ level: 'silent' })
const schema = uniqueSchema('service')
const prefix = uniqueRedisPrefix('service')
let dataDir: string
let config: Config

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'auditq-service-'))
  config = loadConfig({
    databaseUrl: POSTGRES_URL,
    databaseSchema: schema,
    redisUrl: REDIS_URL,
    dataDir,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    queue: { prefix },
    security: { rateLimitPerSecond: 0 },
  })
})

afterAll(async () => {
  if (!hasServices) return
  const redis = new Redis(REDIS_URL)
  await deleteKeys(redis, prefix)
  redis.disconnect()
  await dropSchemas([schema])
  await rm(dataDir, { recursive: true, force: true })
})

/** Posts batches of fresh ids until told to stop; returns the ids of every batch answered 202. */
function postUntilStopped(url: string, signal: { stop: boolean }, clients: number): Promise<string[]> {
  let sequence = 0
  const client = async () => {
    const acknowledged: string[] = []
    while (!signal.stop) {
      const events = Array.from({ length: 20 }, () => ({ id: `00000000-0000-4000-8000-${String(++sequence).padStart(12, '0')}`, action: 'document.read', actor_id: 'svc-test' }))
      try {
        const response = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })
        if (response.status === 202) acknowledged.push(...events.map((event) => event.id))
        else await response.arrayBuffer()
      } catch {
        // The service stopped listening: refused connections are not acknowledgements.
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    return acknowledged
  }
  return Promise.all(Array.from({ length: clients }, client)).then((lists) => lists.flat())
}

async function lifecycleActions(): Promise<string[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ action: string; role: string }>(
      `SELECT action, metadata->'what'->>'role' AS role FROM "${schema}".audit_logs WHERE tenant_id = 'auditq' ORDER BY occurred_at`,
    )
    return rows.map((row) => `${row.role} ${row.action}`)
  } finally {
    await client.end()
  }
}

async function storedCounts(ids: string[]): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string; n: string }>(`SELECT id::text, count(*) AS n FROM "${schema}".audit_logs WHERE id = ANY($1::uuid[]) GROUP BY id`, [ids])
    return new Map(rows.map((row) => [row.id, Number(row.n)]))
  } finally {
    await client.end()
  }
}

describe.skipIf(!hasServices)('startService in queue mode', () => {
  it('stops under load with every component stopped once, newest first, and nothing acknowledged lost or doubled', async () => {
    const service: RunningService = await startService({ role: 'serve', config, logger })
    expect(service.components).toEqual(['redis', 'audit logger', 'access trail', 'search backfill', 'monitoring', 'http', 'maintenance', 'streams', 'worker'])
    const signal = { stop: false }
    const load = postUntilStopped(service.address!, signal, 8)
    // Let the in-process worker start writing, then stop while clients keep posting.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const clean = await service.stop()
    signal.stop = true
    const acknowledged = await load
    expect(clean).toBe(true)
    expect(acknowledged.length).toBeGreaterThan(0)
    // A second stop is the first one's outcome, not a second round of closes.
    await expect(service.stop()).resolves.toBe(true)

    // What the service acknowledged and did not store is in the queue: a worker drains it.
    const worker = await startService({ role: 'worker', config, logger, workerId: 'service-test-drain' })
    expect(worker.components).toEqual(['redis', 'store', 'access trail', 'worker', 'maintenance', 'streams'])
    let counts = new Map<string, number>()
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      counts = await storedCounts(acknowledged)
      if (counts.size === acknowledged.length) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await expect(worker.stop()).resolves.toBe(true)
    expect(acknowledged.filter((id) => !counts.has(id))).toEqual([])
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([])
    // Each process recorded its own start and stop in the system tenant's chain, in order.
    expect(await lifecycleActions()).toEqual(['serve auditq.service.start', 'serve auditq.service.stop', 'worker auditq.service.start', 'worker auditq.service.stop'])
  }, 120_000)

  it('a start that fails stops what it had started and leaves the port free', async () => {
    const first = await startService({ role: 'serve', config, logger, worker: false })
    const port = Number(new URL(first.address!).port)
    try {
      await expect(startService({ role: 'serve', config: { ...config, port }, logger, worker: false })).rejects.toMatchObject({ code: 'EADDRINUSE' })
    } finally {
      await first.stop()
    }
    // The failed start's Redis and logger (with its store and key store) are closed: a third start on the same port works.
    const third = await startService({ role: 'serve', config: { ...config, port }, logger, worker: false })
    await expect(third.stop()).resolves.toBe(true)
  }, 60_000)
})
