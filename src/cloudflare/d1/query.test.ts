import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { freshStore, type TestStore } from '../../../test/support/app.js'
import { isoAt, storedEvent } from '../../../test/support/events.js'
import { startWorker, type TestWorker } from '../../../test/cloudflare/miniflare.js'
import type { AuditEvent } from '../../event/types.js'
import { encodeCursor } from '../../store/cursor.js'
import type { EventFilter } from '../../query/event-filter.js'
import { D1EventWriter } from './writer.js'
import { queryEvents } from './query.js'
import { reportEvents } from './report.js'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

/** Deterministic, varied events: shared timestamps (id breaks ties), several tenants, failures with messages. */
function sampleEvents(): AuditEvent[] {
  let seed = 7
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  return Array.from({ length: 240 }, (_, i) => {
    const success = next(4) !== 0
    return storedEvent({
      tenant_id: ['default', 'acme', 'globex'][next(3)]!,
      action: ['login', 'logout', 'api_key.created', 'token.refreshed', 'role.granted'][next(5)]!,
      category: (['info', 'info', 'info', 'warning', 'critical'] as const)[next(5)]!,
      actor_id: next(6) === 0 ? null : `user-${next(9)}`,
      resource_type: next(4) === 0 ? null : ['token', 'api_key', 'account'][next(3)]!,
      resource_id: `r-${next(5)}`,
      success,
      error_message: success ? null : ['denied', 'expired', 'rate limited'][next(3)]!,
      occurred_at: isoAt(-Math.floor(i / 3) * 1700), // three events per timestamp, spread over ~5 days
    })
  })
}

const FILTERS: EventFilter[] = [
  {},
  { tenant_id: 'acme' },
  { actor_id: 'user-3' },
  { action: 'login', success: false },
  { category: 'critical' },
  { resource_type: 'token', resource_id: 'r-2' },
  { success: true, from: isoAt(-200_000), to: isoAt(-50_000) },
  { from: isoAt(-1700 * 10) }, // inclusive bound exactly on a shared timestamp
  { to: isoAt(-1700 * 70) }, // exclusive bound exactly on a shared timestamp
  { tenant_id: 'nobody' },
]

describe('D1 query helpers answer exactly as the embedded store (same events, same filters)', () => {
  const events = sampleEvents()
  let worker: TestWorker
  let embedded: TestStore
  beforeAll(async () => {
    worker = await startWorker({ mode: 'direct' })
    embedded = await freshStore('embedded')
    await embedded.store.insertBatch(events)
    expect(await new D1EventWriter(worker.db).insertBatch(events)).toEqual({ inserted: events.length, duplicates: 0 })
  })
  afterAll(async () => {
    await worker?.dispose()
    await embedded?.dispose()
  })

  it.each(FILTERS.map((filter) => [JSON.stringify(filter), filter] as const))('pages of 7 newest first with the same cursors: %s', async (_, filter) => {
    let cursor: string | undefined
    let after: { occurred_at: string; id: string } | undefined
    let pages = 0
    do {
      const expected = await embedded.store.query(filter, { limit: 7, ...(after ? { after } : {}) })
      const actual = await queryEvents(worker.db, filter, { limit: 7, ...(cursor ? { cursor } : {}) })
      expect(actual.events).toEqual(expected.events)
      expect(actual.next_cursor).toBe(expected.next ? encodeCursor(expected.next) : null)
      cursor = actual.next_cursor ?? undefined
      after = expected.next
      pages += 1
    } while (cursor)
    expect(pages).toBeGreaterThan(0)
  })

  it('the HTTP form refuses unknown and bad parameters like the Node service', async () => {
    const { status, json } = await worker.fetch('/v1/events?actor=u1&limit=0&success=maybe')
    expect(status).toBe(400)
    expect(json.code).toBe('AUDITQ_BAD_REQUEST')
    expect(json.details.map((e: { field: string }) => e.field).sort()).toEqual(['actor', 'success'])
    expect((await worker.fetch('/v1/events?limit=1001')).json.details).toEqual([expect.objectContaining({ field: 'limit', rule: 'range' })])
    expect((await worker.fetch('/v1/events?cursor=bogus')).json.code).toBe('AUDITQ_BAD_REQUEST')
  })

  it.each(FILTERS.slice(0, 7).map((filter) => [JSON.stringify(filter), filter] as const))('report figures match an independent count: %s', async (_, filter) => {
    const report = await reportEvents(worker.db, filter, { top: 3, topErrors: 2 })
    expect(report).toEqual(expectedReport(events.filter((e) => matches(e, filter)), filter, report.timeline.interval))
  })
})

function matches(event: AuditEvent, filter: EventFilter): boolean {
  for (const key of ['tenant_id', 'actor_id', 'action', 'category', 'resource_type', 'resource_id', 'success'] as const) {
    if (filter[key] !== undefined && event[key] !== filter[key]) return false
  }
  if (filter.from !== undefined && event.occurred_at < filter.from) return false
  if (filter.to !== undefined && event.occurred_at >= filter.to) return false
  return true
}

function ranked(values: (string | null)[], top: number) {
  const counts = new Map<string, number>()
  for (const value of values) if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1)
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
    .slice(0, top)
}

function expectedReport(matched: AuditEvent[], filter: EventFilter, interval: 'hour' | 'day') {
  const failed = matched.filter((e) => !e.success)
  const bucketMs = interval === 'hour' ? 3_600_000 : 86_400_000
  const buckets = new Map<number, { total: number; failures: number }>()
  for (const e of matched) {
    const start = Math.floor(Date.parse(e.occurred_at) / bucketMs) * bucketMs
    const bucket = buckets.get(start) ?? { total: 0, failures: 0 }
    bucket.total += 1
    if (!e.success) bucket.failures += 1
    buckets.set(start, bucket)
  }
  const successes = matched.length - failed.length
  return {
    filter,
    total: matched.length,
    successes,
    failures: failed.length,
    success_rate: matched.length === 0 ? null : successes / matched.length,
    by_category: {
      info: matched.filter((e) => e.category === 'info').length,
      warning: matched.filter((e) => e.category === 'warning').length,
      critical: matched.filter((e) => e.category === 'critical').length,
    },
    top_actors: ranked(matched.map((e) => e.actor_id), 3),
    top_actions: ranked(matched.map((e) => e.action), 3),
    top_resource_types: ranked(matched.map((e) => e.resource_type), 3),
    failures_by_action: ranked(failed.map((e) => e.action), 3).map(({ value, count }) => ({
      action: value,
      count,
      top_errors: ranked(failed.filter((e) => e.action === value).map((e) => e.error_message), 2).map((r) => ({ message: r.value, count: r.count })),
    })),
    timeline: {
      interval,
      buckets: [...buckets].sort((a, b) => a[0] - b[0]).map(([start, b]) => ({ start: new Date(start).toISOString(), ...b })),
    },
  }
}
