/**
 * Shapes both stores' result rows into `ReportData`. Pure; each store first converts its driver's
 * types (bigint strings, epoch milliseconds) into these plain rows.
 */
import type { Category } from '../event/types.js'
import type { FailingAction, ReportData, TimelineBucket } from './model.js'

export interface BucketRow {
  /** ISO-8601 UTC start of the bucket. */
  start: string
  total: number
  failures: number
  info: number
  warning: number
  critical: number
}

export interface FailureRow {
  action: string
  /** All failures of the action, repeated on each of its rows. */
  failures: number
  error_message: string | null
  count: number
}

/** Totals, successes, failures and categories are sums over the buckets, so they always agree with the timeline. */
export function summarizeBuckets(rows: readonly BucketRow[]): Pick<ReportData, 'total' | 'successes' | 'failures' | 'by_category' | 'timeline'> {
  const by_category: Record<Category, number> = { info: 0, warning: 0, critical: 0 }
  let total = 0
  let failures = 0
  const timeline: TimelineBucket[] = rows.map((row) => {
    total += row.total
    failures += row.failures
    by_category.info += row.info
    by_category.warning += row.warning
    by_category.critical += row.critical
    return { start: row.start, total: row.total, failures: row.failures }
  })
  return { total, successes: total - failures, failures, by_category, timeline }
}

/** Rows arrive ordered by action rank, then error rank; consecutive rows of one action form its entry. */
export function groupFailures(rows: readonly FailureRow[]): FailingAction[] {
  const result: FailingAction[] = []
  for (const row of rows) {
    let last = result.at(-1)
    if (last?.action !== row.action) {
      last = { action: row.action, failures: row.failures, top_errors: [] }
      result.push(last)
    }
    last.top_errors.push({ value: row.error_message, count: row.count })
  }
  return result
}
