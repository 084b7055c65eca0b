/**
 * A numbered producer's event that the store refuses for its content goes to the dead-letter
 * queue, and the completeness check names it "dead-lettered", not "missing" — in `auditq
 * completeness` and in GET /v1/completeness — however old it is. Replayed from the DLQ after the
 * fix and stored, it is simply stored. Real `auditq worker` process, Redis and PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CompletenessReport } from '../../src/completeness/check.js'
import { loadConfig } from '../../src/config.js'
import type { AuditEvent } from '../../src/event/types.js'
import { buildServer } from '../../src/http/server.js'
import { RedisStreamsProducer } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import { createLogger } from '../../src/util/logger.js'
import { storedEvent } from '../support/events.js'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { openDeployment, until, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
const silent = createLogger({ level: 'silent' })

describe.skipIf(!hasServices)('queue mode: dead letters in the completeness check', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  let deployment: Deployment | undefined
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
    await deployment?.dispose()
    deployment = undefined
  })

  it('a numbered event the store refuses is named dead-lettered (CLI and HTTP), and stored once replayed after the fix', async () => {
    const d = (deployment = await openDeployment())
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')

    // Issued an hour ago, far past the 15-minute in-flight bound: a number neither stored nor
    // accounted for would be "missing". Numbers 4 and 7 carry a category the table refuses.
    const anHourAgo = new Date(Date.now() - 60 * 60_000).toISOString()
    const events: AuditEvent[] = Array.from({ length: 10 }, (_, i) =>
      storedEvent({
        action: 'dlq.numbered',
        received_at: anHourAgo,
        producer_id: 'dlq-app',
        producer_seq: i + 1,
        ...([4, 7].includes(i + 1) ? { category: 'bogus' as AuditEvent['category'] } : {}),
      }),
    )
    await new RedisStreamsProducer({ redis: d.redis, keys: d.keys, capEvents: 1_000_000 }).enqueue(events)
    await until(async () => (await d.storedCount()) === 8 && (await d.redis.xlen(d.keys.deadLetters)) === 2, {
      timeoutMs: 30_000,
      describe: async () => `stored ${await d.storedCount()}, dead letters ${await d.redis.xlen(d.keys.deadLetters)}:\n${worker.tail()}`,
    })

    const check = async (): Promise<{ code: number | null; report: CompletenessReport }> => {
      const run = await d.runCli(['completeness', '--producer', 'dlq-app', '--json'])
      return { code: run.code, report: JSON.parse(run.stdout) as CompletenessReport }
    }
    const refusedRule = expect.stringMatching(/audit_logs_category_check/)
    const dead = await check()
    expect(dead.code).toBe(0)
    expect(dead.report).toMatchObject({
      missing_events: 0,
      producers: [
        {
          producer_id: 'dlq-app',
          stored: 8,
          rejected: 0,
          dead_lettered: 2,
          dead_lettered_ranges: [
            { from: 4, to: 4, rule: refusedRule },
            { from: 7, to: 7, rule: refusedRule },
          ],
          missing: [],
          in_flight: [],
        },
      ],
    })
    const text = await d.runCli(['completeness', '--producer', 'dlq-app'])
    expect(text).toMatchObject({ code: 0, stdout: expect.stringContaining('dlq-app: 8 stored, 0 rejected, 2 dead-lettered, no head record\n    dead-lettered (auditq dlq list): 4, 7\n') })

    // The same over HTTP, from a service on the same database.
    const store = await createPostgresStore({ connectionString: d.databaseUrl, schema: d.schema })
    cleanups.push(() => store.close())
    const audit = await createAuditLogger({ store, logger: silent })
    cleanups.push(() => audit.close())
    const app = await buildServer({ config: loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 } }), audit, logger: silent })
    cleanups.push(() => app.close())
    const http = await app.inject({ url: '/v1/completeness?producer_id=dlq-app' })
    expect(http.statusCode).toBe(200)
    expect(http.json()).toMatchObject({ missing_events: 0, producers: [{ dead_lettered: 2, dead_lettered_ranges: [{ from: 4, to: 4 }, { from: 7, to: 7 }], missing: [] }] })

    // The fix, then the replay: both land, and nothing is dead-lettered any more.
    await d.db.query('alter table audit_logs drop constraint audit_logs_category_check')
    expect(await d.runCli(['dlq', 'replay', '--all'])).toMatchObject({ code: 0 })
    await until(async () => (await d.storedCount()) === 10, { timeoutMs: 30_000, describe: () => worker.tail() })
    const replayed = await check()
    expect(replayed.code).toBe(0)
    expect(replayed.report.producers).toMatchObject([{ stored: 10, dead_lettered: 0, dead_lettered_ranges: [], missing: [], in_flight: [] }])
    expect(await d.redis.xlen(d.keys.deadLetters)).toBe(0)

    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 90_000)
})
