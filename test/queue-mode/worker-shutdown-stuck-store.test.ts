/**
 * SIGTERM while the store hangs (a table lock, no statement_timeout): the worker still exits by
 * `worker.shutdownDeadlineMs`, leaving its entries pending for the next worker — it used to stay
 * alive for as long as the lock was held.
 */
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { difference, openDeployment, sleep, spawnCli, until, WORKER_CONSUMER, type Deployment } from './harness.js'

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

  it('SIGTERM to serve started while the store refuses writes (a lock): it stops within its deadline instead of dying on the signal', async () => {
    const d = (deployment = await openDeployment())
    expect((await d.runCli(['migrate'])).code).toBe(0)
    locker = new pg.Client({ connectionString: d.databaseUrl, options: `-c search_path=${d.schema}` })
    await locker.connect()
    await locker.query('begin')
    // Reads go on; the start's own access record (an insert) waits for the lock.
    await locker.query('lock table audit_logs in share mode')
    const serve = spawnCli(['serve', '--port', '0', '--no-worker'], d.env)
    for (let waited = 0; !serve.logs().some((line) => typeof line.address === 'string'); waited += 50) {
      if (waited > 30_000) throw new Error(`auditq serve did not start:\n${serve.tail()}`)
      await sleep(50)
    }
    await sleep(500)
    serve.kill('SIGTERM')
    const exit = await Promise.race([serve.exited, sleep(20_000).then(() => 'still running 20 s after SIGTERM' as const)])
    await locker.query('rollback')
    // Handled (an exit code), not killed by the signal's default action before any handler existed.
    expect(exit).toMatchObject({ signal: null })
  }, 60_000)
})
