import pg from 'pg'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { verifyChains } from '../../integrity/verify.js'
import { runCleanup } from '../../retention/cleanup.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store.js'
import { nextRangeStart, rangeStart, rangesToCreate } from './partition-layout.js'

const hasPostgres = await postgresAvailable()
const DAY = 86_400_000
const NOW = Date.now()
/** Week ranges from 20 weeks back, so fixtures land in ranges that retention may drop. */
const SINCE = rangeStart(NOW - 20 * 7 * DAY, 'week')
const PARTITIONED = { partitioning: { interval: 'week' as const, ahead: 1, since: SINCE } }

describe('partition ranges', () => {
  it('starts days at midnight, weeks on Monday and months on the 1st, in UTC', () => {
    const t = Date.parse('2026-12-05T17:00:00Z') // a Saturday
    expect(new Date(rangeStart(t, 'day')).toISOString()).toBe('2026-12-05T00:00:00.000Z')
    expect(new Date(rangeStart(t, 'week')).toISOString()).toBe('2026-11-30T00:00:00.000Z')
    expect(new Date(rangeStart(t, 'month')).toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(new Date(nextRangeStart(Date.parse('2026-12-01T00:00:00Z'), 'month')).toISOString()).toBe('2027-01-01T00:00:00.000Z')
  })

  it('creates ahead past the accepted clock skew, continuing from the newest range', () => {
    const t = Date.parse('2026-12-05T17:00:00Z')
    const starts = rangesToCreate(t, { interval: 'day', ahead: 2 }, null).map((ms) => new Date(ms).toISOString().slice(0, 10))
    // The 5th (now), the 6th (now + 24 h of skew), then two more.
    expect(starts).toEqual(['2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08'])
    expect(rangesToCreate(t, { interval: 'day', ahead: 2 }, Date.parse('2026-12-08T00:00:00Z')).length).toBe(1)
    expect(rangesToCreate(t, { interval: 'day', ahead: 2 }, Date.parse('2026-12-09T00:00:00Z'))).toEqual([])
  })
})

describe.skipIf(!hasPostgres)('partitioned postgres layout', () => {
  const schemas = new Set<string>()
  const opened: PostgresStore[] = []
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()))
  })
  afterAll(() => dropSchemas(schemas))

  async function open(overrides: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
    const schema = overrides.schema ?? uniqueSchema('part')
    schemas.add(schema)
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema, ...overrides })
    opened.push(store)
    return store
  }

  async function sql<T extends pg.QueryResultRow>(schema: string, text: string): Promise<T[]> {
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
    try {
      return (await client.query<T>(text)).rows
    } finally {
      await client.end()
    }
  }

  const partitionOf = async (schema: string, id: string) =>
    (await sql<{ p: string }>(schema, `SELECT tableoid::regclass::text AS p FROM audit_logs WHERE id = '${id}'`)).map((row) => row.p)

  it('creates ranges ahead and a default partition; an event older than every range lands in the default and is reported', async () => {
    const store = await open(PARTITIONED)
    await store.migrate()
    const status = store.partitions!.status()
    expect(status).toMatchObject({ partitioned: true, interval: 'week', defaultRows: 0 })
    expect(Date.parse(status.coveredUntil!)).toBeGreaterThan(NOW + DAY)
    const recent = storedEvent({ occurred_at: new Date(NOW).toISOString() })
    const ancient = storedEvent({ occurred_at: '2001-01-01T00:00:00.000Z' })
    await store.insertBatch([recent, ancient])
    expect(await partitionOf(store.schemaName, ancient.id)).toEqual(['audit_logs_default'])
    expect((await partitionOf(store.schemaName, recent.id))[0]).toMatch(/^audit_logs_p\d{8}$/)
    expect((await store.partitions!.maintain()).defaultRows).toBe(1)
    expect(await verifyChains('postgres', store.integrity)).toMatchObject({ intact: true, events: 2 })
  })

  it('maintenance analyzes a partition whose statistics predate most of its rows, and only then', async () => {
    const store = await open(PARTITIONED)
    await store.migrate()
    const now = new Date(NOW).toISOString()
    for (let i = 0; i < 3; i++) await store.insertBatch(Array.from({ length: 1_000 }, () => storedEvent({ occurred_at: now })))
    const current = (await partitionOf(store.schemaName, (await store.query({}, { limit: 1 })).events[0]!.id))[0]!
    // The inserting sessions report their counts to the statistics system within about a second.
    let analyzed: string[] = []
    await vi.waitFor(async () => {
      analyzed = await store.partitions!.analyzeStale()
      expect(analyzed).toContain(`${store.schemaName}.${current}`)
    }, { timeout: 15_000, interval: 300 })
    const [stats] = await sql<{ n_live_tup: string; last_analyze: Date | null }>(store.schemaName, `SELECT n_live_tup, last_analyze FROM pg_stat_user_tables WHERE relid = '${current}'::regclass`)
    expect(stats!.last_analyze).not.toBeNull()
    expect(await store.partitions!.analyzeStale()).toEqual([])
  })

  it('stores a retried event once, at a range boundary too, and refuses its id in the next partition within 24 hours of occurred_at', async () => {
    const store = await open(PARTITIONED)
    await store.migrate()
    const boundary = rangeStart(NOW, 'week')
    const event = storedEvent({ occurred_at: new Date(boundary - 1).toISOString() })
    expect(await store.insertBatch([event])).toEqual({ inserted: 1, duplicates: 0 })
    // A redelivery carries the same event: same occurred_at, same partition, refused by its key.
    expect(await store.insertBatch([event, storedEvent()])).toEqual({ inserted: 1, duplicates: 1 })
    expect(await store.insertBatch([event])).toEqual({ inserted: 0, duplicates: 1 })
    // Same id, occurred_at moved within the range: still one event.
    expect(await store.insertBatch([{ ...event, occurred_at: new Date(boundary - DAY).toISOString() }])).toEqual({ inserted: 0, duplicates: 1 })
    // Same id with an occurred_at across the boundary (a retry whose time the server filled in): the guard refuses it.
    expect(await store.insertBatch([{ ...event, occurred_at: new Date(boundary + 60_000).toISOString() }, storedEvent()])).toEqual({ inserted: 1, duplicates: 1 })
    // Beyond the guard's window (24 h) the same id is a second row: the documented limit.
    const far = { ...event, occurred_at: new Date(boundary + 3 * DAY).toISOString() }
    expect(await store.insertBatch([far])).toEqual({ inserted: 1, duplicates: 0 })
    const rows = await sql<{ n: number }>(store.schemaName, `SELECT count(*)::int AS n FROM audit_logs WHERE id = '${event.id}'`)
    expect(rows[0]!.n).toBe(2)
  })

  it('refuses to start on a table holding events; converting keeps them, their chain and their keys', async () => {
    const plain = await open()
    await plain.migrate()
    const old = Array.from({ length: 20 }, (_, i) => storedEvent({ tenant_id: i % 2 ? 'acme' : 'zeta', occurred_at: new Date(NOW - (i + 1) * DAY).toISOString() }))
    await plain.insertBatch(old)
    const store = await open({ schema: plain.schemaName, ...PARTITIONED })
    await expect(store.migrate()).rejects.toMatchObject({ code: 'AUDITQ_CONFIG' })
    const converted = await store.partitions!.convert()
    expect(converted.legacyRows).toBe(20)
    await store.migrate()
    expect(await store.insertBatch([old[3]!, storedEvent({ tenant_id: 'acme' })])).toEqual({ inserted: 1, duplicates: 1 })
    expect(await partitionOf(store.schemaName, old[0]!.id)).toEqual(['audit_logs_legacy'])
    expect((await store.query({ tenant_id: 'acme' }, { limit: 100 })).events).toHaveLength(11)
    expect(await verifyChains('postgres', store.integrity)).toMatchObject({ intact: true, events: 21 })
  })

  it('retention drops wholly expired partitions, deletes the rest below the cutoff in chunks, keeps held and kept rows, and verify passes', async () => {
    const store = await open(PARTITIONED)
    await store.migrate()
    const at = (days: number) => new Date(NOW - days * DAY).toISOString()
    // 100 days of events, three tenants; the cutoff at 45 days falls inside a week range.
    const events = Array.from({ length: 300 }, (_, i) => storedEvent({ tenant_id: ['a', 'b', 'c'][i % 3]!, occurred_at: at(100 - i / 3), actor_id: `u${i % 7}` }))
    events[10] = { ...events[10]!, action: 'user.login' } // kept by the rule
    await store.insertBatch(events)
    await store.retentionRules.createHold({
      id: 'hold-1', tenant_id: 'b', actor_id: 'u3', resource_type: null, resource_id: null, reason: 'litigation',
      created_at: new Date().toISOString(), created_by: 'legal', released_at: null, released_by: null,
    })
    const before = await store.partitions!.list()
    const report = await runCleanup(store, { cutoff: new Date(NOW - 45 * DAY), keepActions: ['user.login'], chunkRows: 7, defaultTenant: 'a', dryRun: false })
    const after = await store.partitions!.list()
    expect(after.length).toBeLessThan(before.length)
    const expired = events.filter((e) => Date.parse(e.occurred_at) < NOW - 45 * DAY)
    const kept = expired.filter((e) => e.action === 'user.login' || (e.tenant_id === 'b' && e.actor_id === 'u3'))
    expect(report.status === 'done' && report.total).toBe(expired.length - kept.length)
    const left = await sql<{ id: string }>(store.schemaName, `SELECT id FROM audit_logs WHERE occurred_at < '${new Date(NOW - 45 * DAY).toISOString()}'`)
    expect(left.map((row) => row.id).sort()).toEqual(kept.map((e) => e.id).sort())
    expect(await verifyChains('postgres', store.integrity)).toMatchObject({ intact: true })
  })

  it('a late event committed after the run began keeps its partition and is not deleted', async () => {
    const store = await open(PARTITIONED)
    await store.migrate()
    const old = new Date(NOW - 90 * DAY).toISOString()
    await store.insertBatch(Array.from({ length: 5 }, () => storedEvent({ occurred_at: old })))
    const retention = store.integrity.partitionRetention!
    const mark = await retention.mark()
    const late = storedEvent({ occurred_at: old })
    await store.insertBatch([late])
    const [home] = await partitionOf(store.schemaName, late.id)
    const removed = await retention.apply([{ tenant_id: 'default', cutoff: new Date(NOW - 30 * DAY).toISOString(), keep_actions: [] }], mark, 100)
    expect(removed.get('default')).toBe(5)
    // Its range is kept (the expired empty ones around it are dropped), and so is the late event.
    expect((await store.partitions!.list()).map((p) => p.name)).toContain(home)
    expect((await store.getById(late.id))?.id).toBe(late.id)
  })
})
