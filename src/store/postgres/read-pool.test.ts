/**
 * Reads run on a pool of their own with a statement timeout per connection: however many reads
 * are open or stuck, inserts and health pings find a write connection at once.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()

describe.runIf(hasPostgres)('the PostgreSQL read pool', () => {
  const schema = uniqueSchema('rpool')
  let store: PostgresStore
  beforeAll(async () => {
    // A write pool of 2 so that, before reads had a pool of their own, two open exports took it all.
    store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, poolMax: 2, readPoolMax: 2, readStatementTimeoutMs: 500, streamChunkRows: 10, connectTimeoutMs: 1_000 })
    await store.migrate()
    await store.insertBatch(Array.from({ length: 100 }, () => storedEvent({ tenant_id: 'acme' })))
  })
  afterAll(async () => {
    await store?.close()
    await dropSchemas([schema])
  })

  it('keeps inserts and pings on their own connections while every read connection is held', async () => {
    const exports = [store.stream({})[Symbol.asyncIterator](), store.stream({})[Symbol.asyncIterator]()]
    try {
      for (const events of exports) expect((await events.next()).done).toBe(false)
      const started = Date.now()
      expect(await store.insertBatch([storedEvent({ tenant_id: 'globex' })])).toEqual({ inserted: 1, duplicates: 0 })
      await store.ping()
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(store.readPoolStats()).toMatchObject({ total: 2, idle: 0 })
    } finally {
      for (const events of exports) await events.return?.(undefined)
    }
    expect(store.readPoolStats().idle).toBe(store.readPoolStats().total)
  })

  it('cancels a read statement that runs past the read statement timeout', async () => {
    const locker = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await locker.connect()
    try {
      // A lock that blocks reads of the table: the page query waits on the server until its timeout.
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE')
      const started = Date.now()
      await expect(store.query({}, { limit: 10 })).rejects.toMatchObject({ code: '57014' })
      expect(Date.now() - started).toBeLessThan(5_000)
      await locker.query('ROLLBACK')
      expect((await store.query({}, { limit: 10 })).events).toHaveLength(10)
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined)
      await locker.end()
    }
  })

  it('bounds each fetch of an export by the timeout, not the whole export', async () => {
    // 100 events in fetches of 10, with the consumer pausing longer than the statement timeout in all.
    let count = 0
    for await (const event of store.stream({ tenant_id: 'acme' })) {
      expect(event.tenant_id).toBe('acme')
      count += 1
      if (count % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(count).toBe(100)
  })
})
