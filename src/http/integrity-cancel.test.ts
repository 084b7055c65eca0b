import { request as httpRequest, type ClientRequest } from 'node:http'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApp, type TestApp } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable } from '../../test/support/services.js'
import type { PostgresStore } from '../store/postgres/postgres-store.js'

const hasPostgres = await postgresAvailable()

/**
 * A verification whose client hangs up stops: its statement is cancelled on the server and its
 * slot is free for the next caller. Before, a run kept going after its client left (30,000 events
 * took 104 s) and held the only verification slot all that while.
 */
describe.runIf(hasPostgres)('GET /v1/integrity when the client disconnects (postgres)', () => {
  let t: TestApp
  let locker: pg.Client
  /** Its own session: pg_stat_activity read inside the locker's transaction would be that transaction's snapshot. */
  let watcher: pg.Client
  let schema: string
  beforeAll(async () => {
    t = await startApp('postgres')
    await t.store.insertBatch(Array.from({ length: 10 }, () => storedEvent({ tenant_id: 'acme' })))
    schema = (t.store as PostgresStore).schemaName
    locker = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await locker.connect()
    watcher = new pg.Client({ connectionString: POSTGRES_URL })
    await watcher.connect()
  })
  afterAll(async () => {
    await locker.end()
    await watcher.end()
    await t.close()
  })

  /** Backends of this store's verify waiting for the lock the test holds. */
  async function waitingVerifies(): Promise<number> {
    const { rows } = await watcher.query(
      `SELECT count(DISTINCT a.pid)::int AS n FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
       WHERE NOT l.granted AND l.relation = $1::regclass AND a.state = 'active'`,
      [`${schema}.audit_chain_heads`],
    )
    return rows[0].n
  }

  async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it('cancels the server-side query and frees the slot, so the next request runs instead of getting 429', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 })
    const port = (t.app.server.address() as { port: number }).port
    const get = (): { request: ClientRequest; status: Promise<number> } => {
      let request!: ClientRequest
      const status = new Promise<number>((resolve, reject) => {
        request = httpRequest({ host: '127.0.0.1', port, path: '/v1/integrity' }, (response) => {
          response.resume()
          resolve(response.statusCode ?? 0)
        })
        request.on('error', reject)
        request.end()
      })
      return { request, status }
    }
    // Holding this lock keeps a verification's first statement waiting on the server.
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE audit_chain_heads IN ACCESS EXCLUSIVE MODE')
    try {
      const first = get()
      first.status.catch(() => undefined)
      await until(async () => (await waitingVerifies()) === 1, 10_000, 'the verification to wait on the server')
      first.request.destroy()
      await until(async () => (await waitingVerifies()) === 0, 5_000, 'the server-side query to be cancelled')

      // The slot is free: the next verification gets as far as the server (it would be 429 at once otherwise).
      const second = get()
      const outcome = await Promise.race([
        second.status.then((status) => `answered ${status}`),
        until(async () => (await waitingVerifies()) === 1, 10_000, 'the second verification to run').then(() => 'running'),
      ])
      expect(outcome).toBe('running')
      await locker.query('ROLLBACK')
      expect(await second.status).toBe(200)
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined)
    }
  })
})
