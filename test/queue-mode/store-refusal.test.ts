/**
 * The store refuses writes. When it refuses them for a while (the table locked,
 * every statement timing out), an `auditq worker` process retries its batch with backoff, dead-
 * letters nothing, and lands the batch once the lock is gone. When it refuses one event for its
 * content (a value the validator would have stopped), that event alone goes to the dead-letter
 * queue with the store's error, its batch-mates are stored, and `auditq dlq replay --all` lands it
 * once the table accepts it.
 */
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../src/event/types.js'
import { RedisStreamsProducer } from '../../src/queue/redis-streams/index.js'
import { storedEvent } from '../support/events.js'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { APPLICATION_EVENTS, difference, openDeployment, until, WORKER_CONSUMER, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())

describe.skipIf(!hasServices)('queue mode: the store refuses writes', () => {
  let deployment: Deployment | undefined
  const clients: pg.Client[] = []
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined)
    await deployment?.dispose()
    deployment = undefined
  })

  it('the table is locked for a while: the worker retries its batch, dead-letters nothing, and lands it once the lock is released', async () => {
    const d = (deployment = await openDeployment({ isolation: 'database' }))
    const audit = await d.openLogger({ capEvents: 1_000_000 })
    // Every connection the worker opens from now on gives up on a statement after 500 ms.
    await d.db.query(`alter database "${new URL(d.databaseUrl).pathname.slice(1)}" set statement_timeout = 500`)
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')

    const locker = new pg.Client({ connectionString: d.databaseUrl, options: '-c statement_timeout=0' })
    clients.push(locker)
    await locker.connect()
    await locker.query('begin')
    await locker.query('lock table audit_logs in access exclusive mode')

    const ids = await Promise.all(Array.from({ length: 1_000 }, (_, i) => audit.log({ action: 'while.locked', actor_id: `l${i}` })))
    // Two failed attempts (500 ms each, 1–2 s apart): the worker is waiting the outage out.
    await until(async () => worker.logs('store unavailable; batch will be retried').length >= 2, { timeoutMs: 30_000, describe: () => worker.tail() })
    expect((await locker.query<{ n: string }>(`select count(*) as n from audit_logs where ${APPLICATION_EVENTS}`)).rows[0]!.n).toBe('0')
    expect(await d.redis.xlen(d.keys.deadLetters)).toBe(0)
    await locker.query('rollback')

    await until(async () => (await d.storedCount()) === ids.length && (await d.redis.xlen(d.keys.events)) === 0, {
      timeoutMs: 30_000,
      describe: async () => `stored ${await d.storedCount()} of ${ids.length}:\n${worker.tail()}`,
    })
    expect(difference(ids, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect(await d.redis.xlen(d.keys.deadLetters)).toBe(0)
    expect(await d.pendingFor(WORKER_CONSUMER)).toBe(0)
    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 60_000)

  it('a poison event goes to the DLQ with its error while its batch-mates are stored; dlq list shows it and dlq replay --all lands it after the fix', async () => {
    const d = (deployment = await openDeployment())
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')

    // Past the SDK's validator, straight into the stream, in one call so they share one batch.
    const poison = storedEvent({ category: 'bogus' as AuditEvent['category'], action: 'poison.bogus_category' })
    const mates = Array.from({ length: 99 }, (_, i) => storedEvent({ actor_id: `m${i}` }))
    const batch = [...mates.slice(0, 50), poison, ...mates.slice(50)]
    await new RedisStreamsProducer({ redis: d.redis, keys: d.keys, capEvents: 1_000_000 }).enqueue(batch)

    await until(async () => (await d.storedCount()) === mates.length && (await d.redis.xlen(d.keys.deadLetters)) === 1, {
      timeoutMs: 30_000,
      describe: async () => `stored ${await d.storedCount()}, dead letters ${await d.redis.xlen(d.keys.deadLetters)}:\n${worker.tail()}`,
    })
    expect(difference(mates.map((e) => e.id), await d.storedIds())).toEqual({ missing: [], unexpected: [] })
    expect(worker.logs('events moved to the dead-letter queue')).toMatchObject([{ dead_lettered: 1 }])

    const listed = await d.runCli(['dlq', 'list'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain(`poison.bogus_category ${poison.id}`)
    expect(listed.stdout).toMatch(/error: .*audit_logs_category_check/)
    const asJson = JSON.parse((await d.runCli(['dlq', 'list', '--format', 'json'])).stdout) as { total: number; deadLetters: { event: AuditEvent; error: string }[] }
    expect(asJson.total).toBe(1)
    expect(asJson.deadLetters[0]!.event).toEqual(poison)

    // The fix: the table now accepts the value that was refused.
    await d.db.query('alter table audit_logs drop constraint audit_logs_category_check')
    const replayed = await d.runCli(['dlq', 'replay', '--all'])
    expect(replayed).toMatchObject({ code: 0, stdout: 'replayed 1 dead letter(s) into the queue\n' })

    await until(async () => (await d.storedCount()) === batch.length, { timeoutMs: 30_000, describe: () => worker.tail() })
    expect((await d.db.query('select category from audit_logs where id = $1', [poison.id])).rows).toEqual([{ category: 'bogus' }])
    expect((await d.runCli(['dlq', 'list'])).stdout).toBe('the dead-letter queue is empty\n')
    worker.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 60_000)
})
