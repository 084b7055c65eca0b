/**
 * Several processes' batches lock overlapping sets of tenant heads while new tenants keep
 * appearing: the chain function must take every batch's locks in one global order (a batch that
 * locked the heads that existed and then created the missing ones could hold one head another
 * batch waits for while waiting for one that batch holds), and the chains must come out whole.
 */
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { verifyChains } from '../../integrity/verify.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, testPartitioning, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'
import { INSERT_UNNEST_PARTITIONED_SQL, INSERT_UNNEST_SQL, insertParams } from './sql.js'
import { planBatch } from './chained-insert.js'

const hasPostgres = await postgresAvailable()

describe('planBatch', () => {
  it("keeps each tenant's events together in batch order, and describes each run", () => {
    const events = ['b', 'a', 'b', 'c', 'a', 'b'].map((tenant_id, i) => storedEvent({ tenant_id, description: `${i}` }))
    const plan = planBatch(events)
    expect(plan.grouped.map((event) => `${event.tenant_id}${event.description}`)).toEqual(['b0', 'b2', 'b5', 'a1', 'a4', 'c3'])
    expect(plan).toMatchObject({ tenants: ['b', 'a', 'c'], counts: [3, 2, 1], offsets: [0, 3, 5] })
  })

  it('keeps the first copy of an id per tenant (in any case), the same id in another tenant, and leaves out excluded ids', () => {
    const id = '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70'
    const other = '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f71'
    const events = [
      storedEvent({ id, tenant_id: 'a', description: 'first' }),
      storedEvent({ id: id.toUpperCase(), tenant_id: 'a', description: 'copy' }),
      storedEvent({ id, tenant_id: 'b', description: 'other tenant' }),
      storedEvent({ id: other, tenant_id: 'a', description: 'stored elsewhere' }),
    ]
    expect(planBatch(events).grouped.map((event) => event.description)).toEqual(['first', 'stored elsewhere', 'other tenant'])
    const plan = planBatch(events, new Map([['a', new Set([other])]]))
    expect(plan.grouped.map((event) => event.description)).toEqual(['first', 'other tenant'])
    expect(plan).toMatchObject({ tenants: ['a', 'b'], counts: [1, 1], offsets: [0, 1] })
    expect(planBatch(events, new Map([['a', new Set([id, other])]])).tenants).toEqual(['b'])
  })
})

describe.skipIf(!hasPostgres)('postgres chained insert under concurrent writers', () => {
  const schemas: string[] = []
  const freshSchema = () => {
    schemas.push(uniqueSchema('chainlock'))
    return schemas.at(-1)!
  }
  afterAll(() => dropSchemas(schemas))

  it('holds no head while it waits for one: all of a batch\'s heads are locked in one sorted pass', async () => {
    const schema = freshSchema()
    const appName = `${schema}_waiter`
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema, applicationName: appName })
    const other = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    const creator = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await Promise.all([other.connect(), creator.connect()])
    try {
      await store.migrate()
      await store.insertBatch([storedEvent({ tenant_id: 'lock-c' })])
      // Another batch is creating head "lock-a" and has not committed.
      await creator.query('BEGIN')
      await creator.query("INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ('lock-a', 0, repeat('0', 64))")
      const pending = store.insertBatch([storedEvent({ tenant_id: 'lock-c' }), storedEvent({ tenant_id: 'lock-a' })])
      for (let i = 0; ; i++) {
        const { rows } = await other.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName])
        if (rows.length > 0) break
        if (i > 200) throw new Error('the batch never waited for the head being created')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      // Waiting for "lock-a", the batch must not be holding "lock-c" (sorted after it): a batch
      // that locked the existing heads first and then created the missing ones would, and one
      // that waits for "lock-c" while holding "lock-a" would deadlock with it.
      await other.query('BEGIN')
      await expect(other.query("SELECT 1 FROM audit_chain_heads WHERE tenant_id = 'lock-c' FOR UPDATE NOWAIT")).resolves.toMatchObject({ rowCount: 1 })
      await other.query('ROLLBACK')
      await creator.query('ROLLBACK')
      await expect(pending).resolves.toEqual({ inserted: 2, duplicates: 0 })
    } finally {
      await Promise.all([store.close(), other.end(), creator.end()])
    }
  })

  it('never deadlocks while batches create and share heads, and every chain is gap-free', async () => {
    const schema = freshSchema()
    const writers: PostgresStore[] = []
    try {
      for (let i = 0; i < 4; i++) {
        const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema, poolMax: 2 })
        if (i === 0) await store.migrate()
        writers.push(store)
      }
      // Tenant names sort differently from the order they appear in, and each round adds new
      // ones, so batches keep meeting heads that another batch is creating right then.
      let stored = 0
      for (let round = 0; round < 12; round++) {
        const names = Array.from({ length: round + 2 }, (_, i) => `t${(i * 7919) % 101}`)
        await Promise.all(
          writers.map((store, w) => {
            const picked = names.filter((_, i) => (i + w + round) % 2 === 0 || i === round + 1)
            const events = Array.from({ length: 30 }, (_, i) => storedEvent({ tenant_id: picked[i % picked.length]!, description: `${round}/${w}/${i}` }))
            stored += events.length
            return store.insertBatch(events)
          }),
        )
      }
      const report = await verifyChains('postgres', writers[0]!.integrity)
      expect(report).toMatchObject({ intact: true, events: stored })
    } finally {
      await Promise.all(writers.map((store) => store.close()))
    }
  })

  it('a batch that deadlocks on ids with another transaction is tried again, not failed', async () => {
    const schema = freshSchema()
    const appName = `${schema}_deadlock`
    // The partitioned parent has no (tenant_id, id) key to name as a conflict target.
    const insertSql = testPartitioning().partitioning ? INSERT_UNNEST_PARTITIONED_SQL : INSERT_UNNEST_SQL
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema, applicationName: appName })
    const other = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    const monitor = new pg.Client({ connectionString: POSTGRES_URL })
    await Promise.all([other.connect(), monitor.connect()])
    const waitingOn = async (app: string) => {
      for (let i = 0; ; i++) {
        const { rows } = await monitor.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app])
        if (rows.length > 0) return
        if (i > 300) throw new Error(`${app} never waited for a lock`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    try {
      await store.migrate()
      await store.insertBatch([storedEvent({ tenant_id: 'acme' })])
      const [a, b] = [storedEvent({ tenant_id: 'acme', description: 'a' }), storedEvent({ tenant_id: 'acme', description: 'b' })]
      // The other transaction holds b (uncommitted) and, later, waits for a: a redelivered batch in
      // the opposite order. Its long deadlock_timeout makes our statement the one PostgreSQL aborts.
      await other.query("SET deadlock_timeout = '30s'")
      await other.query(`SET application_name = '${appName}_other'`)
      await other.query('BEGIN')
      await other.query(insertSql, insertParams([b]))
      const pending = store.insertBatch([a, b])
      await waitingOn(appName)
      const otherInsert = other.query(insertSql, insertParams([a]))
      // The deadlock is broken by aborting our statement; its retry then waits for b again.
      await otherInsert
      await waitingOn(appName)
      await other.query('ROLLBACK')
      await expect(pending).resolves.toEqual({ inserted: 2, duplicates: 0 })
      const report = await verifyChains('postgres', store.integrity)
      expect(report).toMatchObject({ intact: true, events: 3 })
    } finally {
      await Promise.all([store.close(), other.end(), monitor.end()])
    }
  })
})
