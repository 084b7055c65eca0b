/**
 * Every figure of `store.report()` on both stores against an independent count: the plain-JS
 * oracle in test/support/report-oracle.ts, itself checked against hand-counted answers below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { resolvePeriod, type PeriodRequest } from '../report/period.js'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { generateEvents } from '../../test/support/report-dataset.js'
import { expectedReport } from '../../test/support/report-oracle.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const NOW = new Date('2026-12-20T12:00:00.000Z')

describe.each(kinds)('report over the %s store', (kind) => {
  let t: TestStore
  const events = generateEvents(5_000)

  beforeAll(async () => {
    t = await freshStore(kind)
    for (let i = 0; i < events.length; i += 500) await t.store.insertBatch(events.slice(i, i + 500))
  })
  afterAll(async () => {
    await t.dispose()
  })

  const cases: { name: string; period: PeriodRequest; tenant?: string; topN: number; topErrors: number }[] = [
    { name: 'daily on a month end, hourly buckets', period: { kind: 'daily', date: '2026-11-30' }, topN: 10, topErrors: 3 },
    { name: 'weekly across the month boundary', period: { kind: 'weekly', date: '2026-12-03' }, topN: 10, topErrors: 3 },
    { name: 'monthly November', period: { kind: 'monthly', date: '2026-11-15' }, topN: 5, topErrors: 2 },
    { name: 'monthly December, one tenant', period: { kind: 'monthly', date: '2026-12-31' }, tenant: 'globex', topN: 10, topErrors: 5 },
    { name: 'custom range of 30 hours, every value listed', period: { kind: 'custom', from: '2026-11-29T18:30:00.000Z', to: '2026-12-01T00:30:00.000Z' }, topN: 100, topErrors: 10 },
    { name: 'custom range over everything, top 1', period: { kind: 'custom', from: '2026-11-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' }, topN: 1, topErrors: 1 },
    { name: 'a week with no events', period: { kind: 'weekly', date: '2026-10-01' }, topN: 10, topErrors: 3 },
  ]

  it.each(cases)('$name: every figure matches the independent count', async ({ period, tenant, topN, topErrors }) => {
    const resolved = resolvePeriod(period, NOW)
    const filter = { from: resolved.from, to: resolved.to, ...(tenant ? { tenant_id: tenant } : {}) }
    const options = { topN, topErrors, bucket: resolved.bucket }
    const actual = await t.store.report(filter, options)
    expect(actual).toEqual(expectedReport(events, filter, options))
  })

  it('covers the data set: the cases above are not vacuous', async () => {
    const all = await t.store.report({}, { topN: 100, topErrors: 10, bucket: 'day' })
    expect(all.total).toBe(events.length)
    expect(all.failures).toBeGreaterThan(300)
    expect(all.top_actors.some((actor) => actor.value === null)).toBe(true)
    expect(all.top_resource_types.some((type) => type.value === null)).toBe(true)
    expect(all.failures_by_action.some((failing) => failing.top_errors.some((error) => error.value === null))).toBe(true)
  })
})

describe.each(kinds)('report semantics on a hand-counted set over the %s store', (kind) => {
  let t: TestStore
  const at = (iso: string, overrides: Partial<AuditEvent>) => storedEvent({ occurred_at: iso, received_at: iso, ...overrides })
  // Hand-counted: 6 events on 2026-03-02 (a Monday), one a millisecond after the day, one in another tenant.
  const events = [
    at('2026-03-02T00:00:00.000Z', { actor_id: 'bob', action: 'login' }),
    at('2026-03-02T00:59:59.999Z', { actor_id: 'alice', action: 'login', success: false, error_message: 'bad password' }),
    at('2026-03-02T01:00:00.000Z', { actor_id: 'alice', action: 'login', success: false, error_message: 'bad password', category: 'warning' }),
    at('2026-03-02T05:00:00.000Z', { actor_id: null, action: 'export', success: false, error_message: null, category: 'critical', resource_type: null }),
    at('2026-03-02T23:59:59.999Z', { actor_id: 'bob', action: 'logout' }),
    at('2026-03-03T00:00:00.000Z', { actor_id: 'carol', action: 'login' }),
    at('2026-03-02T12:00:00.000Z', { tenant_id: 'other', actor_id: 'mallory', action: 'login' }),
  ]
  beforeAll(async () => {
    t = await freshStore(kind)
    await t.store.insertBatch(events)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('counts a daily report exactly, ties in byte order and absent values last', async () => {
    const filter = { from: '2026-03-02T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z', tenant_id: 'default' }
    const report = await t.store.report(filter, { topN: 2, topErrors: 1, bucket: 'hour' })
    const expected = {
      total: 5,
      successes: 2,
      failures: 3,
      by_category: { info: 3, warning: 1, critical: 1 },
      top_actors: [{ value: 'alice', count: 2 }, { value: 'bob', count: 2 }],
      top_actions: [{ value: 'login', count: 3 }, { value: 'export', count: 1 }],
      top_resource_types: [{ value: 'api_key', count: 4 }, { value: null, count: 1 }],
      failures_by_action: [
        { action: 'login', failures: 2, top_errors: [{ value: 'bad password', count: 2 }] },
        { action: 'export', failures: 1, top_errors: [{ value: null, count: 1 }] },
      ],
      timeline: [
        { start: '2026-03-02T00:00:00.000Z', total: 2, failures: 1 },
        { start: '2026-03-02T01:00:00.000Z', total: 1, failures: 1 },
        { start: '2026-03-02T05:00:00.000Z', total: 1, failures: 1 },
        { start: '2026-03-02T23:00:00.000Z', total: 1, failures: 0 },
      ],
    }
    expect(report).toEqual(expected)
    // The oracle agrees with the hand count, so the generated-set cases above test something real.
    expect(expectedReport(events, filter, { topN: 2, topErrors: 1, bucket: 'hour' })).toEqual(expected)
  })
})
