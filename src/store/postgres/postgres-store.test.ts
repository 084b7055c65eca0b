import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { describeStoreContract } from '../../../test/contracts/store.contract.js'
import { MIGRATION_PLAN } from '../migrate.js'
import { isoAt, storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, testPartitioning, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store.js'
import { describeConnection } from './pools.js'

const hasPostgres = await postgresAvailable()

describe.skipIf(!hasPostgres)('postgres store', () => {
  const schemas = new Set<string>()
  const opened: PostgresStore[] = []

  async function open(overrides: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    const schema = overrides.schema ?? uniqueSchema('pgstore')
    schemas.add(schema)
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema, ...overrides })
    opened.push(store)
    return store
  }

  async function migrated(overrides: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    const store = await open(overrides)
    await store.migrate()
    return store
  }

  /** A plain client in the store's schema, for checks that must bypass the store. */
  async function rawClient(schema: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
    return client
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()))
  })

  it('keeps its schema and UTC when the URL carries its own startup options', async () => {
    const schema = uniqueSchema('pgopts')
    const withOptions = `${POSTGRES_URL}?options=${encodeURIComponent('-c statement_timeout=5000')}`
    const store = await migrated({ connectionString: withOptions, schema })
    const event = storedEvent()
    await store.insertBatch([event])
    const client = await rawClient(schema)
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n).toBe(1)
    } finally {
      await client.end()
    }
    expect(await store.getById(event.id)).toEqual(event)
  })

  afterAll(() => dropSchemas(schemas))

  describeStoreContract('postgres', () => migrated())

  it('migrates safely when five processes start at once', async () => {
    const schema = uniqueSchema('race')
    const stores = await Promise.all(Array.from({ length: 5 }, () => open({ schema })))
    const reports = await Promise.all(stores.map((store) => store.migrate()))
    // Exactly one of them created the schema; the others waited on the lock and found it done.
    expect(reports.filter((report) => report.applied.length > 0)).toHaveLength(1)
    // Derived from the plan, so it stays true as migrations are added.
    const latest = Math.max(...MIGRATION_PLAN.map((step) => step.version))
    expect(reports.every((report) => report.current === latest)).toBe(true)
    const client = await rawClient(schema)
    try {
      const { rows } = await client.query('SELECT version FROM auditq_migrations ORDER BY version')
      expect(rows).toEqual(MIGRATION_PLAN.map((step) => ({ version: step.version })))
    } finally {
      await client.end()
    }
    await expect(stores[0]!.insertBatch([storedEvent()])).resolves.toEqual({ inserted: 1, duplicates: 0 })
  })

  it('round-trips inet, jsonb and timestamptz exactly', async () => {
    const store = await migrated()
    const cases = [
      storedEvent({ ip_address: '10.0.0.1', occurred_at: '1999-12-31T23:59:59.999Z', received_at: '2000-01-01T00:00:00.000Z' }),
      storedEvent({ ip_address: '::ffff:192.0.2.1', occurred_at: '2026-06-01T12:00:00.001Z' }),
      storedEvent({ ip_address: 'fe80::1', occurred_at: isoAt(0.5) }),
      storedEvent({
        metadata: {
          big: 12345678901234567890,
          tiny: 1e-7,
          text: 'tab\tnewline\nquote"backslash\\ emoji 🎉',
          list: [1, [2, [3]], { k: null }],
          empty: {},
          bool: false,
        },
      }),
    ]
    await store.insertBatch(cases)
    for (const event of cases) expect(await store.getById(event.id)).toEqual(event)
    const client = await rawClient(store.schemaName)
    try {
      const { rows } = await client.query<{ t: string }>(
        'SELECT pg_typeof(ip_address)::text || pg_typeof(metadata)::text || pg_typeof(occurred_at)::text AS t FROM audit_logs LIMIT 1',
      )
      expect(rows[0]!.t).toBe('inetjsonbtimestamp with time zone')
    } finally {
      await client.end()
    }
  })

  it('classifies a value the server refuses as data, and an unreachable server as transient', async () => {
    const store = await migrated()
    const client = await rawClient(store.schemaName)
    const refused = await client
      .query("INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, success) VALUES (gen_random_uuid(), 't', now(), now(), 'a', 'loud', true)")
      .then(() => undefined, (error: unknown) => error)
      .finally(() => client.end())
    expect((refused as { code?: string }).code).toBe('23514')
    expect(store.classifyError(refused)).toBe('data')

    // The batch path too: an event the validator would have stopped, here a malformed address.
    const bad = await store.insertBatch([storedEvent(), storedEvent({ ip_address: 'not-an-ip' })]).catch((e: unknown) => e)
    expect((bad as { code?: string }).code).toBe('22P02')
    expect(store.classifyError(bad)).toBe('data')

    const down = await open({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 1_000 })
    const unreachable = await down.insertBatch([storedEvent()]).catch((e: unknown) => e)
    expect(unreachable).toBeInstanceOf(Error)
    expect(down.classifyError(unreachable)).toBe('transient')
    await expect(down.ping()).rejects.toThrow()

    // A store that never ran migrate(): our bug, not the event's, so retrying later may succeed.
    const unmigrated = await open()
    const missingTable = await unmigrated.insertBatch([storedEvent()]).catch((e: unknown) => e)
    expect((missingTable as { code?: string }).code).toMatch(/^42(P01|883)$/) // no table, or (chained insert) no function yet
    expect(unmigrated.classifyError(missingTable)).toBe('transient')
  })

  it('releases the stream client when the consumer stops early', async () => {
    const store = await migrated({ poolMax: 2, streamChunkRows: 100 })
    const events = Array.from({ length: 1_000 }, (_, i) => storedEvent({ occurred_at: isoAt(i) }))
    await store.insertBatch(events)
    const before = store.poolStats()
    let seen = 0
    for await (const event of store.stream({})) {
      expect(event.occurred_at).toBe(isoAt(999 - seen))
      if (++seen === 150) break
    }
    expect(store.poolStats().idle).toBe(store.poolStats().total)
    expect(store.poolStats().total).toBeLessThanOrEqual(Math.max(before.total, 1))
    // Both clients of a pool of two are free again: three more early stops would otherwise starve it.
    for (let i = 0; i < 3; i++) {
      for await (const _ of store.stream({})) break
    }
    await expect(store.query({}, { limit: 1 })).resolves.toMatchObject({ events: [{ id: events[999]!.id }] })
    expect(store.poolStats()).toMatchObject({ waiting: 0 })
    expect(store.poolStats().idle).toBe(store.poolStats().total)
  })

  it('closes idempotently and never shows the password', async () => {
    const store = await open({ connectionString: 'postgres://auditq:s3cret@db.internal:6543/audit' })
    expect(store.description).toBe('db.internal:6543/audit')
    expect(describeConnection('host=x password=y')).toBe('postgres')
    await store.close()
    await store.close()
  })
})
