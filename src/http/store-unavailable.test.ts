/**
 * A read that cannot get a store connection (every one held, the pool's checkout timeout passed)
 * is a "retry later", not an internal error: 503 AUDITQ_STORE_UNAVAILABLE with Retry-After on
 * every read route. Real PostgreSQL, one-connection pools (reads have a pool of their own), the
 * read connection held by a query stuck behind a table lock.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../config.js'
import { createAuditLogger, type AuditLogger } from '../sdk/audit-logger.js'
import { createPostgresStore } from '../store/postgres/postgres-store.js'
import { createLogger } from '../util/logger.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../test/support/services.js'
import { buildServer } from './server.js'

const hasPostgres = await postgresAvailable()
/** How long a read waits for a pool connection before it is answered 503. */
const CHECKOUT_TIMEOUT_MS = 300

describe.skipIf(!hasPostgres)('read routes when no store connection can be had', () => {
  const schema = uniqueSchema('pool')
  let app: FastifyInstance
  let audit: AuditLogger
  let locker: pg.Client
  let id: string

  beforeAll(async () => {
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, poolMax: 1, readPoolMax: 1, connectTimeoutMs: CHECKOUT_TIMEOUT_MS })
    await store.migrate()
    const logger = createLogger({ level: 'silent' })
    audit = await createAuditLogger({ store, logger })
    id = await audit.log({ action: 'before.exhaustion', actor_id: 'u1' })
    // The sampler's periodic reads share the read pool: one every 10 minutes, not every 2 s, so none
    // competes with the test's reads for the only connection (the first runs at start, waited for below).
    app = await buildServer({ config: loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 }, monitoring: { sampleEveryMs: 600_000 } }), audit, logger })
    locker = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await locker.connect()
  })
  afterAll(async () => {
    await locker?.query('rollback').catch(() => undefined)
    await locker?.end()
    await app?.close()
    await audit?.close()
    await dropSchemas([schema])
  })

  it('answers 503 AUDITQ_STORE_UNAVAILABLE with Retry-After on every read route while the pool is exhausted, and 200 once a connection is free', async () => {
    // The service's own background reads (the completeness check monitoring starts with) share the
    // read pool. One that starts while the table is locked waits on the lock holding the only
    // connection, and the test's read is answered 503 instead of becoming the holder. So: wait for
    // background reads to finish, lock, start the read, and take it as the holder only if, well past
    // the checkout timeout, it is still unanswered while PostgreSQL shows a read waiting on the lock;
    // otherwise unlock, let everything finish, and start over.
    const backgroundReadsDone = async () => {
      for (let waited = 0; waited < 10_000; waited += 50) {
        const busy = await locker.query("select 1 from pg_stat_activity where application_name = 'auditq-read' and state = 'active'")
        if (busy.rowCount === 0) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    const readWaitingOnLock = async () =>
      (
        await locker.query(
          `select 1 from pg_locks l join pg_stat_activity a using (pid)
            where not l.granted and l.relation = 'audit_logs'::regclass and a.application_name = 'auditq-read'`,
        )
      ).rowCount! > 0
    let holder: Promise<{ statusCode: number }> | undefined
    // What each attempt that did not become the holder was answered, for the failure message.
    const answered: string[] = []
    for (let attempt = 0; attempt < 8 && !holder; attempt++) {
      await backgroundReadsDone()
      await locker.query('begin')
      await locker.query('lock table audit_logs in access exclusive mode')
      let settled = false
      const candidate = app.inject('/v1/events').then((response) => {
        settled = true
        return response
      })
      await new Promise((resolve) => setTimeout(resolve, CHECKOUT_TIMEOUT_MS * 3))
      if (!settled && (await readWaitingOnLock())) {
        holder = candidate
        break
      }
      await locker.query('rollback')
      const response = await candidate
      answered.push(`${response.statusCode} ${response.body.slice(0, 120)}`)
    }
    expect(holder, `a read waiting on the table lock; answered instead: ${answered.join(' | ')}`).toBeDefined()
    const reads = ['/v1/events', `/v1/events/${id}`, '/v1/events/export?format=csv', '/v1/integrity', '/v1/reports?period=daily']
    for (const url of reads) {
      const response = await app.inject(url)
      expect(response.statusCode, `${url}: ${response.body}`).toBe(503)
      expect(response.json().code, url).toBe('AUDITQ_STORE_UNAVAILABLE')
      expect(response.headers['retry-after'], url).toMatch(/^\d+$/)
    }
    await locker.query('rollback')
    expect((await holder!).statusCode).toBe(200)
    for (const url of reads) expect((await app.inject(url)).statusCode, url).toBe(200)
  }, 30_000)
})
