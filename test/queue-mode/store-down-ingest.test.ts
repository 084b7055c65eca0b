/**
 * Queue mode exists so events are accepted while PostgreSQL is down: Redis (and the spill journal)
 * hold them until the worker can write. The HTTP edge must not undo that by asking the key store
 * on every request once its cache expires. Here `auditq serve` runs against a PostgreSQL of its
 * own that the test stops and starts again: keys verified before the outage keep working, a key
 * never seen gets 503 AUDITQ_STORE_UNAVAILABLE with Retry-After, health keeps its issues for an
 * admin key, and once PostgreSQL is back revocation works again and the events held land.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../support/redis-server.js'
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js'
import { REDIS_URL } from '../support/services.js'
import { runCli, sleep, spawnCli, until, type CliProcess } from './harness.js'
import { Redis } from 'ioredis'

const hasServices = privatePostgresAvailable() && (await redisAvailable())
const TTL_MS = 300

describe.skipIf(!hasServices)('queue mode: HTTP ingest while PostgreSQL is down', () => {
  let postgres: PrivatePostgres
  let dataDir: string
  let env: NodeJS.ProcessEnv
  let serve: CliProcess | undefined
  let base: string
  const prefix = uniqueRedisPrefix('edge')

  beforeAll(async () => {
    postgres = await startPrivatePostgres()
    dataDir = await mkdtemp(join(tmpdir(), 'auditq-edge-'))
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AUDITQ_')))
    env = {
      ...inherited,
      AUDITQ_DATABASE_URL: postgres.url,
      AUDITQ_REDIS_URL: REDIS_URL,
      AUDITQ_QUEUE_PREFIX: prefix,
      AUDITQ_DATA_DIR: dataDir,
      AUDITQ_PORT: String(port),
      AUDITQ_LOG_LEVEL: 'info',
      AUDITQ_LOG_FORMAT: 'json',
      AUDITQ_KEY_CACHE_TTL_MS: String(TTL_MS),
      AUDITQ_RATE_LIMIT_PER_SECOND: '0',
      AUDITQ_FAILED_AUTH_PER_SECOND: '0',
    }
  }, 120_000)

  afterAll(async () => {
    serve?.kill('SIGKILL')
    await serve?.exited
    const redis = new Redis(REDIS_URL)
    await deleteKeys(redis, prefix).finally(() => redis.disconnect())
    await postgres?.destroy()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  const createKey = async (scopes: string) => {
    const result = await runCli(['keys', 'create', '--tenant', 'acme', '--scopes', scopes], env)
    expect(result.code, result.stderr).toBe(0)
    return result.stdout.trim()
  }
  const post = (key: string, action: string) =>
    fetch(`${base}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ action, actor_id: 'u1' }) })
  const health = (key: string) => fetch(`${base}/api/v1/monitoring/health`, { headers: { authorization: `Bearer ${key}` } })

  it('keeps accepting for verified keys while PostgreSQL is down, answers 503 for keys never seen, and honours revocation once it is back', async () => {
    // The first creates the tables; the rest can run together.
    const ingest = await createKey('ingest')
    const [admin, revokedLater, neverSeen] = await Promise.all([createKey('admin'), createKey('ingest'), createKey('ingest')])

    serve = spawnCli(['serve'], env)
    await serve.waitForLog(`auditq listening on ${base}`, 60_000)
    for (const key of [ingest, revokedLater]) expect((await post(key, 'before.outage')).status).toBe(202)
    expect(await (await health(admin)).json()).toHaveProperty('issues')

    await postgres.stop()
    await sleep(TTL_MS * 3) // every cached key is now past its TTL

    const during = await Promise.all(Array.from({ length: 50 }, () => post(ingest, 'during.outage')))
    expect(during.map((response) => response.status)).toEqual(during.map(() => 202))
    expect((await post(revokedLater, 'during.outage')).status).toBe(202)

    // A key this process has never verified cannot be told from a forged one while the store is down.
    const unknown = await post(neverSeen, 'during.outage')
    expect(unknown.status).toBe(503)
    expect(unknown.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await unknown.json()).toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })

    // Health still tells the admin what is wrong, not just the public status.
    const sick = await health(admin)
    const body = (await sick.json()) as { services: { store: string }; issues?: unknown[] }
    expect(body.services.store).not.toBe('connected')
    expect(body.issues?.length).toBeGreaterThan(0)

    await postgres.start()
    const revoked = await runCli(['keys', 'revoke', revokedLater.split('_')[1]!], env)
    expect(revoked.code, revoked.stderr).toBe(0)
    await until(async () => (await post(revokedLater, 'after.revoke')).status === 401, { timeoutMs: 20_000, describe: () => serve!.tail() })
    expect((await post(neverSeen, 'after.outage')).status).toBe(202)
    expect((await post(ingest, 'after.outage')).status).toBe(202)

    // What was accepted during the outage reaches the table once the worker can write again.
    const db = new pg.Client({ connectionString: postgres.url })
    await db.connect()
    try {
      const count = async () => Number((await db.query<{ n: string }>(`select count(*) as n from audit_logs where action = 'during.outage'`)).rows[0]!.n)
      await until(async () => (await count()) === 51, { timeoutMs: 30_000, describe: async () => `stored ${await count()} of 51:\n${serve!.tail()}` })
    } finally {
      await db.end()
    }
  }, 120_000)
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
