/**
 * Producer runs on PostgreSQL: every path that stores events records the runs of consecutive
 * producer numbers it stored (a statement trigger), a rolled-back batch records none, migration
 * 92 derives the runs of events stored before it, and compaction merges runs into islands
 * exactly, also when two compactions and inserts run at once.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { migrateAllBut } from '../../../test/support/migrate-partial.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import type { AuditEvent } from '../../event/types.js'
import { prepareEvent } from '../../integrity/prepared-event.js'
import { rangeStart } from './partition-layout.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { createPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store.js'
import { COMPACT_SQL } from './producer-runs-sql.js'

const hasPostgres = await postgresAvailable()

const numbered = (producer: string, seqs: readonly number[], tenant = 'acme'): AuditEvent[] =>
  seqs.map((seq) => storedEvent({ tenant_id: tenant, producer_id: producer, producer_seq: seq }))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe.runIf(hasPostgres)('postgres producer runs', () => {
  const schemas: string[] = []
  const stores: PostgresStore[] = []
  const clients: pg.Client[] = []
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end()))
    await Promise.all(stores.map((store) => store.close()))
    await dropSchemas(schemas)
  })

  async function open(options: Partial<PostgresStoreOptions> = {}): Promise<{ store: PostgresStore; sql: pg.Client }> {
    const schema = uniqueSchema('pruns')
    schemas.push(schema)
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, ...options })
    stores.push(store)
    await store.migrate()
    const sql = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await sql.connect()
    clients.push(sql)
    return { store, sql }
  }

  const runs = async (sql: pg.Client) =>
    (await sql.query<{ tenant_id: string; producer_id: string; first_seq: string; last_seq: string }>(
      'SELECT tenant_id, producer_id, first_seq, last_seq FROM audit_producer_runs ORDER BY producer_id, first_seq, last_seq',
    )).rows.map((row) => `${row.producer_id}@${row.tenant_id ?? '*'}:${row.first_seq}-${row.last_seq}`)

  let plain: { store: PostgresStore; sql: pg.Client }
  beforeAll(async () => {
    plain = await open()
  })

  it('a chained batch records one run per producer and stretch of consecutive numbers, across tenants; events without a producer record none', async () => {
    const { store, sql } = plain
    // p2 sends number 1 twice (two events): one run, not a false second one.
    const batch = [...numbered('p1', [3, 1, 2, 7, 8]), ...numbered('p1', [4], 'globex'), ...numbered('p2', [1, 2, 1]), storedEvent()]
    expect((await store.insertBatch(batch)).inserted).toBe(batch.length)
    // p1's 1-3 in acme and 4 in globex are one run, of several tenants (*).
    expect(await runs(sql)).toEqual(['p1@*:1-4', 'p1@acme:7-8', 'p2@acme:1-2'])
  })

  it('the queue worker\'s prepared insert records its runs too', async () => {
    const { store, sql } = plain
    await store.insertPrepared(numbered('p3', range(1, 40)).map(prepareEvent))
    expect((await runs(sql)).filter((run) => run.startsWith('p3'))).toEqual(['p3@acme:1-40'])
  })

  it('a batch that fails records nothing; its retry without the duplicate records what it stored', async () => {
    const { store, sql } = plain
    const [stored] = numbered('p4', [1])
    await store.insertBatch([stored!])
    // The same id again with new numbers: the chained insert learns the id exists and stores the rest.
    const result = await store.insertBatch([{ ...stored!, producer_seq: 9 }, ...numbered('p4', [2, 3])])
    expect(result).toMatchObject({ inserted: 2, duplicates: 1 })
    expect((await runs(sql)).filter((run) => run.startsWith('p4'))).toEqual(['p4@acme:1-1', 'p4@acme:2-3'])
  })

  it('the unchained and the partitioned inserts record runs (the partitioned parent has the trigger)', async () => {
    const unchained = await open({ chain: false })
    await unchained.store.insertBatch(numbered('u1', range(1, 5)))
    expect(await runs(unchained.sql)).toEqual(['u1@acme:1-5'])

    const partitioned = await open({ partitioning: { interval: 'week', ahead: 1, since: rangeStart(Date.now() - 14 * 86_400_000, 'week') } })
    expect((await partitioned.sql.query("SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'audit_logs'::regclass")).rowCount).toBe(1)
    const old = numbered('w1', range(1, 3)).map((event) => ({ ...event, occurred_at: new Date(Date.now() - 10 * 86_400_000).toISOString() }))
    await partitioned.store.insertBatch([...old, ...numbered('w1', range(4, 6))])
    await partitioned.store.insertPrepared(numbered('w1', range(7, 9)).map(prepareEvent))
    expect(await runs(partitioned.sql)).toEqual(['w1@acme:1-6', 'w1@acme:7-9'])
  })

  it('compaction merges runs into islands, leaves producers with nothing to merge untouched, and stays exact under concurrency', async () => {
    const { store, sql } = await open()
    // p5: 1..300 in batches of 7, with 100..109 never stored; p6: two islands already.
    const p5 = range(1, 300).filter((seq) => seq < 100 || seq > 109)
    for (let i = 0; i < p5.length; i += 7) await store.insertBatch(numbered('p5', p5.slice(i, i + 7)))
    await store.insertBatch(numbered('p6', [1, 2, 3, 10, 11]))
    const p6Rows = async () => (await sql.query<{ ctid: string }>("SELECT ctid::text FROM audit_producer_runs WHERE producer_id = 'p6' ORDER BY first_seq")).rows
    const p6Before = await p6Rows()

    // Two compactions at once, while more of p5 arrives.
    const more = range(301, 400)
    const writer = (async () => {
      for (let i = 0; i < more.length; i += 5) await store.insertBatch(numbered('p5', more.slice(i, i + 5)))
    })()
    const second = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schemas.at(-1)}` })
    await second.connect()
    clients.push(second)
    await Promise.all([writer, sql.query(COMPACT_SQL), second.query(COMPACT_SQL), sql.query(COMPACT_SQL)])
    await sql.query(COMPACT_SQL)
    expect(await runs(sql)).toEqual(['p5@acme:1-99', 'p5@acme:110-400', 'p6@acme:1-3', 'p6@acme:10-11'])
    expect(await p6Rows()).toEqual(p6Before)

    const islands = await store.completeness.producerIslands({ producer_id: 'p5' })
    expect(islands.map((island) => [island.first, island.last])).toEqual([[1, 99], [110, 400]])
  })

  it('an application serving many tenants records one run per batch, not one per event; a check naming a tenant sees the producers wholly in it', async () => {
    const { store, sql } = await open()
    // Numbers dealt round-robin over eight tenants, as the SDK numbers an application's events.
    await store.insertBatch(range(1, 64).map((seq) => storedEvent({ tenant_id: `t${seq % 8}`, producer_id: 'app', producer_seq: seq })))
    await store.insertBatch(numbered('solo', [1, 2, 4]))
    await store.insertBatch(numbered('solo', [3]))
    expect(await runs(sql)).toEqual(['app@*:1-64', 'solo@acme:1-2', 'solo@acme:3-3', 'solo@acme:4-4'])
    const islands = async (tenant?: string) =>
      (await store.completeness.producerIslands(tenant ? { tenant_id: tenant } : {})).map((i) => `${i.producer_id}:${i.first}-${i.last}`)
    expect(await islands()).toEqual(['app:1-64', 'solo:1-4'])
    expect(await islands('acme')).toEqual(['solo:1-4'])
    expect(await islands('t1')).toEqual([])
    // The check compacted what it read: solo's three runs are one row now.
    expect(await runs(sql)).toEqual(['app@*:1-64', 'solo@acme:1-4'])
  })

  it('migration 92 derives the runs of every event stored before it and drops the per-event producer indexes', async () => {
    const schema = uniqueSchema('pruns91')
    schemas.push(schema)
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 })
    try {
      const target = postgresMigrationTarget(pool, { schema, lockTimeoutMs: 10_000 })
      await migrateAllBut(target, POSTGRES_MIGRATIONS, [92])
      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
      stores.push(store)
      await store.insertBatch(numbered('old', [1, 2, 3, 5, 6]))
      await store.insertBatch(numbered('old', [4, 4, 9]))
      const before = await pool.query('SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [schema, 'audit_producer_runs'])
      expect(before.rowCount).toBe(0)

      await target.withLock(() => target.apply(92, 'producer_runs', POSTGRES_MIGRATIONS[92]!))
      const { rows } = await pool.query<{ first_seq: string; last_seq: string }>('SELECT first_seq, last_seq FROM audit_producer_runs ORDER BY first_seq')
      expect(rows.map((row) => [Number(row.first_seq), Number(row.last_seq)])).toEqual([[1, 6], [9, 9]])
      const indexes = await pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'audit_logs_producer%'", [schema])
      expect(indexes.rows).toEqual([])
    } finally {
      await pool.end()
    }
  })
})
