/**
 * SIGTERM while the store hangs (a table lock, no statement_timeout): the worker still exits by
 * `worker.shutdownDeadlineMs`, leaving its entries pending for the next worker — it used to stay
 * alive for as long as the lock was held.
 */
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, openDeployment, sleep, until, WORKER_CONSUMER, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())

describe.skipIf(!hasServices)('queue mode: a worker process stopped while the store hangs', () => {
  let deployment: Deployment | undefined
  let locker: pg.Client | undefined
  afterEach(async () => {
    await locker?.end().catch(() => undefined)
    await deployment?.dispose()
  })

  it('SIGTERM while an insert waits on a lock: the worker exits (code 1) within its deadline and its entries stay pending', async () => {
    const d = (deployment = await openDeployment())
    const audit = await d.openLogger({ capEvents: 1_000_000 })
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')
    locker = new pg.Client({ connectionString: d.databaseUrl, options: `-c search_path=${d.schema}` })
    await locker.connect()
    await locker.query('begin')
    await locker.query('lock table audit_logs in access exclusive mode')
    const ids = await Promise.all(Array.from({ length: 500 }, (_, i) => audit.log({ action: 'stalled', actor_id: `s${i}` })))
    await sleep(1_500)

    const signalled = Date.now()
    worker.kill('SIGTERM')
    const exit = await Promise.race([worker.exited, sleep(15_000).then(() => 'still running 15 s after SIGTERM' as const)])
    const tookMs = Date.now() - signalled
    await locker.query('rollback')
    expect(exit).toEqual({ code: 1, signal: null })
    expect(tookMs).toBeLessThan(11_000)
    expect(await d.pendingFor(WORKER_CONSUMER)).toBeGreaterThan(0)

    await worker.exited
    const next = d.spawnWorker()
    await until(async () => (await d.storedCount()) === ids.length, { timeoutMs: 60_000, describe: () => next.tail() })
    expect(difference(ids, await d.storedIds())).toEqual({ missing: [], unexpected: [] })
  }, 120_000)
})
