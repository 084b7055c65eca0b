/**
 * The time-partitioned layout of `audit_logs` (opt-in, docs/scaling.md): pure pieces, no
 * connection. Partitions are ranges of `occurred_at` in UTC, one per interval, named by their
 * first day (`audit_logs_p20261130`); a default partition catches what no range holds, and a
 * table converted from the unpartitioned layout keeps its rows as one `audit_logs_legacy` range.
 *
 * Why occurred_at and not received_at: a retry or a queue redelivery carries the same event, so
 * the same occurred_at, and lands in the same partition, where each partition's own primary key
 * (tenant_id, id) refuses it; retention's rule is on occurred_at, so a range past the cutoff is
 * wholly expired; and time-bounded queries, reports and exports prune to the ranges they touch.
 */
import { PARTITION_INTERVALS, type PartitionInterval } from '../../config.js'
import { MAX_FUTURE_SKEW_MS } from '../../event/timestamp.js'

export { PARTITION_INTERVALS, type PartitionInterval }

export interface PartitioningSettings {
  interval: PartitionInterval
  /** Ranges kept created beyond the one holding "now + the accepted clock skew". */
  ahead: number
  /**
   * Where a fresh table's first range starts (epoch ms), for history about to be imported; unset,
   * the range holding now. Older events go to the default partition.
   */
  since?: number | undefined
}

export const DEFAULT_PARTITION = 'audit_logs_default'
export const LEGACY_PARTITION = 'audit_logs_legacy'
const DAY_MS = 86_400_000

/** Start (UTC) of the range holding `ms`: midnight, Monday midnight, or the 1st of the month. */
export function rangeStart(ms: number, interval: PartitionInterval): number {
  const day = Math.floor(ms / DAY_MS) * DAY_MS
  if (interval === 'day') return day
  if (interval === 'week') {
    // 1970-01-01 was a Thursday: shift so weeks start on Monday, as ISO weeks do.
    const weekday = (new Date(day).getUTCDay() + 6) % 7
    return day - weekday * DAY_MS
  }
  const date = new Date(day)
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
}

/** Start of the range after the one starting at `start`. */
export function nextRangeStart(start: number, interval: PartitionInterval): number {
  if (interval === 'day') return start + DAY_MS
  if (interval === 'week') return start + 7 * DAY_MS
  const date = new Date(start)
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
}

export function partitionName(start: number): string {
  return `audit_logs_p${new Date(start).toISOString().slice(0, 10).replaceAll('-', '')}`
}

/** Names this layout gives partitions; also what a unique violation on one of them names. */
const PARTITION_NAME = /^audit_logs_(p\d{8}|default|legacy)$/
export function isPartitionName(name: string): boolean {
  return PARTITION_NAME.test(name)
}

/** The primary keys a duplicate (tenant_id, id) can violate: the unpartitioned table's or a partition's. */
export function isEventKeyConstraint(name: unknown): boolean {
  return typeof name === 'string' && (name === 'audit_logs_pkey' || (name.endsWith('_pkey') && isPartitionName(name.slice(0, -5))))
}

/**
 * The range starts to create so that every occurred_at the validator accepts (up to
 * MAX_FUTURE_SKEW_MS ahead of now) has a partition, plus `ahead` more; starting where the
 * newest existing range ends (`from`), or at the range holding now when there is none.
 */
export function rangesToCreate(now: number, settings: PartitioningSettings, from: number | null): number[] {
  let end = rangeStart(now + MAX_FUTURE_SKEW_MS, settings.interval)
  for (let i = 0; i < settings.ahead; i++) end = nextRangeStart(end, settings.interval)
  const starts: number[] = []
  // An existing newest range may end off this interval's grid (the interval setting changed, or
  // the legacy range): continue from its end, then snap to the grid.
  let start = from ?? rangeStart(settings.since ?? now, settings.interval)
  while (start <= end) {
    starts.push(start)
    const next = nextRangeStart(rangeStart(start, settings.interval), settings.interval)
    start = next
  }
  return starts
}

/** The range that starts at `start` ends on the grid, so a range continuing an off-grid one still ends on it. */
export function rangeEnd(start: number, interval: PartitionInterval): number {
  return nextRangeStart(rangeStart(start, interval), interval)
}

/** A partition of audit_logs as the catalogue describes it. */
export interface PartitionInfo {
  name: string
  /** Range bounds in epoch ms; null = MINVALUE (from) or the default partition (both). */
  from: number | null
  to: number | null
  isDefault: boolean
}

/** Parses pg_get_expr(relpartbound): `FOR VALUES FROM ('…') TO ('…')`, `FROM (MINVALUE) TO (…)` or `DEFAULT`. */
export function parseBound(name: string, expression: string): PartitionInfo {
  if (expression.trim() === 'DEFAULT') return { name, from: null, to: null, isDefault: true }
  const match = /FROM \((.+?)\) TO \((.+?)\)/.exec(expression)
  if (!match) throw new Error(`audit_logs partition ${name}: unexpected bound ${expression}`)
  const value = (text: string) => (text === 'MINVALUE' || text === 'MAXVALUE' ? null : Date.parse(text.replace(/^'|'$/g, '').replace(' ', 'T').replace(/\+00$/, 'Z')))
  return { name, from: value(match[1]!), to: value(match[2]!), isDefault: false }
}
