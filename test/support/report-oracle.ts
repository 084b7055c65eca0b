/**
 * The report computed the slow, obvious way from an array of events, in plain JS and without any
 * of the stores' code: the independent count every store's `report()` is checked against.
 */
import type { AuditEvent, Category } from '../../src/event/types.js'
import type { CountedValue, FailingAction, ReportData, ReportOptions, TimelineBucket } from '../../src/report/model.js'
import type { EventFilter } from '../../src/query/event-filter.js'

const STEP = { hour: 3_600_000, day: 86_400_000 } as const

export function expectedReport(events: readonly AuditEvent[], filter: EventFilter, options: ReportOptions): ReportData {
  const from = filter.from === undefined ? -Infinity : Date.parse(filter.from)
  const to = filter.to === undefined ? Infinity : Date.parse(filter.to)
  const matching = events.filter((event) => {
    const at = Date.parse(event.occurred_at)
    return at >= from && at < to && (filter.tenant_id === undefined || event.tenant_id === filter.tenant_id)
  })
  const failed = matching.filter((event) => !event.success)
  const byCategory: Record<Category, number> = { info: 0, warning: 0, critical: 0 }
  for (const event of matching) byCategory[event.category] += 1

  const timeline = new Map<number, TimelineBucket>()
  for (const event of matching) {
    const start = Math.floor(Date.parse(event.occurred_at) / STEP[options.bucket]) * STEP[options.bucket]
    const bucket = timeline.get(start) ?? { start: new Date(start).toISOString(), total: 0, failures: 0 }
    bucket.total += 1
    if (!event.success) bucket.failures += 1
    timeline.set(start, bucket)
  }

  const failing: FailingAction[] = top(failed, (event) => event.action, options.topN).map(({ value, count }) => ({
    action: value!,
    failures: count,
    top_errors: top(
      failed.filter((event) => event.action === value),
      (event) => event.error_message,
      options.topErrors,
    ),
  }))

  return {
    total: matching.length,
    successes: matching.length - failed.length,
    failures: failed.length,
    by_category: byCategory,
    top_actors: top(matching, (event) => event.actor_id, options.topN),
    top_actions: top(matching, (event) => event.action, options.topN),
    top_resource_types: top(matching, (event) => event.resource_type, options.topN),
    failures_by_action: failing,
    timeline: [...timeline.entries()].sort(([a], [b]) => a - b).map(([, bucket]) => bucket),
  }
}

/** Count per value; most frequent first, ties by UTF-8 byte order, absent (null) values last. */
function top(events: readonly AuditEvent[], key: (event: AuditEvent) => string | null, n: number): CountedValue[] {
  const counts = new Map<string | null, number>()
  for (const event of events) counts.set(key(event), (counts.get(key(event)) ?? 0) + 1)
  return [...counts.entries()]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || byteOrder(a.value, b.value))
    .slice(0, n)
}

function byteOrder(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
