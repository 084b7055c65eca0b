/**
 * Report plans and limits on a real server, over 20,000 events.
 *
 * Migration 20 exists for one reason: with statistics on the report's bucket expressions the
 * planner expects a month to hold 30 day-groups, not one group per row. This checks the
 * estimate on a real server, so a change to either spelling of the expression cannot silently
 * undo it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { freshStore, type TestStore } from '../../../test/support/app.js'
import { storedEvent } from '../../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable } from '../../../test/support/services.js'
import type { PostgresStore } from './postgres-store.js'
import { generateReport } from '../../report/generate.js'
import { bucketCounts } from './report-sql.js'

const hasPostgres = await postgresAvailable()

describe.runIf(hasPostgres)('PostgreSQL report plans', () => {
  let t: TestStore
  let client: pg.Client
  beforeAll(async () => {
    t = await freshStore('postgres')
    const start = Date.parse('2026-11-01T00:00:00Z')
    const events = Array.from({ length: 20_000 }, (_, i) => {
      const at = new Date(start + Math.floor((i / 20_000) * 30 * 86_400_000)).toISOString()
      return storedEvent({ occurred_at: at, received_at: at })
    })
    for (let i = 0; i < events.length; i += 5_000) await t.store.insertBatch(events.slice(i, i + 5_000))
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${(t.store as PostgresStore).schemaName}` })
    await client.connect()
    await client.query('ANALYZE audit_logs')
  })
  afterAll(async () => {
    await client.end()
    await t.dispose()
  })

  it.each([
    ['day', 30],
    ['hour', 720],
  ] as const)('estimates the %s buckets of a month from the statistics', async (bucket, groups) => {
    const statement = bucketCounts({ from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' }, { topN: 10, topErrors: 5, bucket })
    const { rows } = await client.query<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(`EXPLAIN (FORMAT JSON) ${statement.text}`, statement.values)
    const estimate = rows[0]!['QUERY PLAN'][0]!.Plan['Plan Rows']
    // Without migration 20 this is 20,000 (one group per row).
    expect(estimate).toBeGreaterThanOrEqual(groups * 0.5)
    expect(estimate).toBeLessThanOrEqual(groups * 2)
  })

  it('cancels a report over its time limit, as a 503 the caller may retry', async () => {
    const request = { period: { kind: 'monthly' as const, date: '2026-11-01' }, topN: 10 }
    const timedOut = generateReport(t.store, request, { now: new Date('2026-12-15T00:00:00Z'), topErrors: 5, timeoutMs: 1 })
    await expect(timedOut).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE', statusCode: 503 })
    // The limit was local to that transaction: the pooled connection answers the next report in full.
    const report = await generateReport(t.store, request, { now: new Date('2026-12-15T00:00:00Z'), topErrors: 5, timeoutMs: 60_000 })
    expect(report.summary.total).toBe(20_000)
  })
})
