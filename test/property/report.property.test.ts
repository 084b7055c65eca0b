/**
 * Property: for any small set of events and any period, `store.report()` equals the plain-JS
 * oracle. Values come from a pool chosen to collide (ties are frequent) and to disagree between
 * orderings: accents, a combining mark, U+E000 and U+FFFD (above every surrogate in UTF-16 but
 * below astral characters in UTF-8 byte order), an emoji, upper and lower case. Each run writes
 * under a tenant of its own, so runs never see each other's rows.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { expect } from 'vitest'
import type { Category } from '../../src/event/types.js'
import { resolvePeriod, type PeriodRequest } from '../../src/report/period.js'
import { freshStore, type StoreKind, type TestStore } from '../support/app.js'
import { storedEvent } from '../support/events.js'
import { expectedReport } from '../support/report-oracle.js'
import { postgresAvailable } from '../support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const RUNS = Number(process.env.AUDITQ_FUZZ_RUNS ?? 30)

const WINDOW_FROM = Date.parse('2026-02-27T00:00:00.000Z') // spans a month end and a Monday
const WINDOW_MS = 4 * 86_400_000
const POOL = ['a', 'B', 'b', 'é', 'e\u0301', '\uE000', '\uFFFD', '\u{1F600}', 'zz', '=x']

const value = fc.constantFrom(...POOL)
const optionalValue = fc.option(value, { nil: null, freq: 4 })
const eventShape = fc.record({
  offsetMs: fc.integer({ min: 0, max: WINDOW_MS - 1 }),
  action: value,
  actor: optionalValue,
  resourceType: optionalValue,
  category: fc.constantFrom<Category>('info', 'warning', 'critical'),
  failed: fc.boolean(),
  error: optionalValue,
})
const period: fc.Arbitrary<PeriodRequest> = fc.oneof(
  fc.constantFrom<PeriodRequest>(
    { kind: 'daily', date: '2026-02-28' },
    { kind: 'daily', date: '2026-03-01' },
    { kind: 'weekly', date: '2026-03-01' },
    { kind: 'monthly', date: '2026-02-01' },
    { kind: 'monthly', date: '2026-03-31' },
  ),
  fc
    .tuple(fc.integer({ min: 0, max: WINDOW_MS }), fc.integer({ min: 1, max: WINDOW_MS }))
    .map(([start, length]): PeriodRequest => ({
      kind: 'custom',
      from: new Date(WINDOW_FROM + start - 3_600_000).toISOString(),
      to: new Date(WINDOW_FROM + start - 3_600_000 + length).toISOString(),
    })),
)

describe.each(kinds)('report property over the %s store', (kind) => {
  let t: TestStore
  beforeAll(async () => {
    t = await freshStore(kind)
  })
  afterAll(async () => {
    await t.dispose()
  })

  it('equals the independent count for any events, period and limits', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventShape, { maxLength: 60 }),
        period,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        async (shapes, request, topN, topErrors) => {
          const tenant = `prop-${run++}`
          const events = shapes.map((shape) => {
            const at = new Date(WINDOW_FROM + shape.offsetMs).toISOString()
            return storedEvent({
              tenant_id: tenant,
              occurred_at: at,
              received_at: at,
              action: shape.action,
              actor_id: shape.actor,
              resource_type: shape.resourceType,
              category: shape.category,
              success: !shape.failed,
              error_message: shape.failed ? shape.error : null,
            })
          })
          if (events.length > 0) await t.store.insertBatch(events)
          const resolved = resolvePeriod(request, new Date('2026-03-15T00:00:00Z'))
          const filter = { from: resolved.from, to: resolved.to, tenant_id: tenant }
          const options = { topN, topErrors, bucket: resolved.bucket }
          expect(await t.store.report(filter, options)).toEqual(expectedReport(events, filter, options))
        },
      ),
      { numRuns: RUNS },
    )
  })
})
