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

describe.skipIf(!hasPostgres)('read routes when no store connection can be had', () => {
  const schema = uniqueSchema('pool')
  let app: FastifyInstance
  let audit: AuditLogger
  let locker: pg.Client
  let id: string

  beforeAll(async () => {
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, poolMax: 1, readPoolMax: 1, connectTimeoutMs: 300 })
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
    // read pool: let them finish first, or one of them would be the read holding the connection.
    for (let waited = 0; waited < 10_000; waited += 50) {
      const busy = await locker.query("select 1 from pg_stat_activity where application_name = 'auditq-read' and state = 'active'")
      if (busy.rowCount === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await locker.query('begin')
    await locker.query('lock table audit_logs in access exclusive mode')
    // This read takes the read pool's only connection and waits on the lock, holding it. On a busy
    // machine a background read can still hold the connection past the checkout timeout, so the
    // holder may be answered 503 itself: start it again until PostgreSQL shows it waiting on the lock.
    let holder: Promise<{ statusCode: number }> | undefined
    // What each attempt that did not wait on the lock was answered, for the failure message.
    const answered: string[] = []
    for (let attempt = 0; attempt < 20 && !holder; attempt++) {
      let settled = false
      const candidate = app.inject('/v1/events').then((response) => {
        settled = true
        answered.push(`${response.statusCode} ${response.body.slice(0, 120)}`)
        return response
      })
      for (let waited = 0; waited < 5_000 && !settled; waited += 50) {
        const waiting = await locker.query(
          `select 1 from pg_locks l join pg_stat_activity a using (pid)
            where not l.granted and l.relation = 'audit_logs'::regclass and a.application_name = 'auditq-read'`,
        )
        if (waiting.rowCount! > 0) {
          holder = candidate
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      if (!holder) await candidate
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
