/**
 * The report model: what a store computes (`ReportData`) and what every renderer prints
 * (`Report`). Pure types plus `buildReport`, which adds what needs no database: the period, the
 * success rate, and the zero-filled timeline.
 */
import type { Category } from '../event/types.js'
import type { ReportPeriod, TimeBucket } from './period.js'

/** How much detail a store computes; callers bound these (`config.reports`). */
export interface ReportOptions {
  /** Rows in each top list (actors, actions, resource types, failing actions). */
  topN: number
  /** Most frequent error messages listed under each failing action. */
  topErrors: number
  bucket: TimeBucket
  /** Cancel the report after this long (PostgreSQL: per statement); absent = no limit. */
  timeoutMs?: number
}

/**
 * One value and how many events carry it. `value` null means the field was absent on those
 * events (no actor, no resource type, no error message): counted, never hidden.
 */
export interface CountedValue {
  value: string | null
  count: number
}

export interface FailingAction {
  action: string
  failures: number
  top_errors: CountedValue[]
}

/** Events whose `occurred_at` falls in [start, start + bucket). */
export interface TimelineBucket {
  start: string
  total: number
  failures: number
}

/**
 * The aggregates, all from one consistent snapshot of the store. Top lists are ordered by count
 * descending, then by value in byte order (UTF-8, what PostgreSQL's "C" collation and SQLite's
 * BINARY compare), absent values last, so two stores given the same rows answer identically.
 */
export interface ReportData {
  total: number
  successes: number
  failures: number
  by_category: Record<Category, number>
  top_actors: CountedValue[]
  top_actions: CountedValue[]
  top_resource_types: CountedValue[]
  failures_by_action: FailingAction[]
  /** Only buckets holding at least one event, oldest first. */
  timeline: TimelineBucket[]
}

/** What every renderer prints: the store's lists as they are, plus the period and derived figures. */
export interface Report extends Pick<ReportData, 'by_category' | 'top_actors' | 'top_actions' | 'top_resource_types' | 'failures_by_action'> {
  period: ReportPeriod
  /** The tenant the report is bounded to; null = every tenant. */
  tenant_id: string | null
  generated_at: string
  /** False while the period has not ended yet: its figures can still grow. */
  complete: boolean
  top_n: number
  summary: {
    total: number
    successes: number
    failures: number
    /** successes / total rounded to 4 decimals; null when there are no events. */
    success_rate: number | null
  }
  /** Every bucket of the period, empty ones included, oldest first. */
  timeline: TimelineBucket[]
}

export interface BuildReportInput {
  period: ReportPeriod
  data: ReportData
  tenantId: string | undefined
  topN: number
  generatedAt: Date
}

export function buildReport({ period, data, tenantId, topN, generatedAt }: BuildReportInput): Report {
  return {
    period,
    tenant_id: tenantId ?? null,
    generated_at: generatedAt.toISOString(),
    complete: Date.parse(period.to) <= generatedAt.getTime(),
    top_n: topN,
    summary: {
      total: data.total,
      successes: data.successes,
      failures: data.failures,
      success_rate: successRate(data.successes, data.total),
    },
    by_category: data.by_category,
    top_actors: data.top_actors,
    top_actions: data.top_actions,
    top_resource_types: data.top_resource_types,
    failures_by_action: data.failures_by_action,
    timeline: fillTimeline(period, data.timeline),
  }
}

export function successRate(successes: number, total: number): number | null {
  return total === 0 ? null : Math.round((successes / total) * 10_000) / 10_000
}

/** One entry per bucket from the first that holds `from` up to `to`, counts taken from `buckets`. */
export function fillTimeline(period: ReportPeriod, buckets: readonly TimelineBucket[]): TimelineBucket[] {
  const step = BUCKET_MS[period.bucket]
  const byStart = new Map(buckets.map((bucket) => [Date.parse(bucket.start), bucket]))
  const filled: TimelineBucket[] = []
  const end = Date.parse(period.to)
  for (let start = floorTo(Date.parse(period.from), step); start < end; start += step) {
    const found = byStart.get(start)
    filled.push({ start: new Date(start).toISOString(), total: found?.total ?? 0, failures: found?.failures ?? 0 })
  }
  return filled
}

export const BUCKET_MS: Record<TimeBucket, number> = { hour: 3_600_000, day: 86_400_000 }

/** UTC buckets: epoch milliseconds are UTC, and neither hours nor days have leap seconds in them. */
export function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step
}
