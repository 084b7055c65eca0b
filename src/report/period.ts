/**
 * Which events a report covers: a named period, or an explicit range, resolved to a half-open
 * interval [from, to) in UTC. Pure: the current time is passed in.
 *
 * Rules, all in UTC:
 * - daily: the calendar day holding `date`, 00:00 to the next day's 00:00.
 * - weekly: the ISO-8601 week holding `date`, Monday 00:00 to the next Monday 00:00.
 * - monthly: the calendar month holding `date`, the 1st 00:00 to the next month's 1st 00:00
 *   (28 to 31 days; December rolls into January of the next year).
 * - `date` defaults to today: the period still running, reported as `complete: false`.
 * - custom: `from` inclusive, `to` exclusive, up to `MAX_CUSTOM_RANGE_DAYS`.
 * Timeline buckets are hours for a daily report or a custom range of up to two days, days otherwise.
 */
import { AuditqError } from '../errors.js'
import type { FieldError } from '../event/types.js'

export const PERIOD_KINDS = ['daily', 'weekly', 'monthly'] as const
export type PeriodKind = (typeof PERIOD_KINDS)[number]
export type TimeBucket = 'hour' | 'day'

export interface ReportPeriod {
  kind: PeriodKind | 'custom'
  /** Inclusive, ISO-8601 UTC with milliseconds. */
  from: string
  /** Exclusive. */
  to: string
  bucket: TimeBucket
}

export type PeriodRequest =
  | { kind: PeriodKind; date?: string }
  | { kind: 'custom'; from: string; to: string }

/** A year of daily buckets at most: bounds the report's work and the timeline's length. */
export const MAX_CUSTOM_RANGE_DAYS = 366
/** Custom ranges up to this long get hourly buckets (at most 48), longer ones daily. */
const HOURLY_UP_TO_MS = 2 * 86_400_000
const DAY_MS = 86_400_000

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** `YYYY-MM-DD` that names a real calendar day → epoch ms of its UTC midnight. */
export function parseDate(value: string): number | undefined {
  const match = DATE.exec(value)
  if (!match) return undefined
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  // Stored events lie between 1970 and 9999; a period must end within year 9999 too.
  if (year < 1970 || year > 9998) return undefined
  const ms = Date.UTC(year, month - 1, day)
  const back = new Date(ms)
  // Date.UTC silently rolls 2026-02-30 into March; a date that does not round-trip does not exist.
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) return undefined
  return ms
}

export function resolvePeriod(request: PeriodRequest, now: Date): ReportPeriod {
  if (request.kind === 'custom') return customPeriod(request.from, request.to)
  const day = request.date === undefined ? startOfUtcDay(now.getTime()) : parseDate(request.date)
  if (day === undefined) throw invalid('date', 'date', 'must be a calendar date YYYY-MM-DD (UTC) between 1970 and 9998')
  const [from, to] = bounds(request.kind, day)
  return { kind: request.kind, from: iso(from), to: iso(to), bucket: request.kind === 'daily' ? 'hour' : 'day' }
}

function bounds(kind: PeriodKind, day: number): [number, number] {
  const date = new Date(day)
  switch (kind) {
    case 'daily':
      return [day, day + DAY_MS]
    case 'weekly': {
      // getUTCDay: Sunday 0 … Saturday 6; ISO weeks start on Monday, so Sunday is 6 days in.
      const monday = day - ((date.getUTCDay() + 6) % 7) * DAY_MS
      return [monday, monday + 7 * DAY_MS]
    }
    case 'monthly': {
      const year = date.getUTCFullYear()
      const month = date.getUTCMonth()
      // Date.UTC carries month 12 into January of the next year.
      return [Date.UTC(year, month, 1), Date.UTC(year, month + 1, 1)]
    }
  }
}

function customPeriod(fromIso: string, toIso: string): ReportPeriod {
  const from = Date.parse(fromIso)
  const to = Date.parse(toIso)
  if (!(from < to)) throw invalid('to', 'range', 'must be later than from')
  if (to - from > MAX_CUSTOM_RANGE_DAYS * DAY_MS) {
    throw invalid('to', 'range', `the range may span at most ${MAX_CUSTOM_RANGE_DAYS} days`)
  }
  return { kind: 'custom', from: iso(from), to: iso(to), bucket: to - from <= HOURLY_UP_TO_MS ? 'hour' : 'day' }
}

function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function invalid(field: string, rule: string, message: string): AuditqError {
  const details: FieldError[] = [{ field, rule, message }]
  return new AuditqError('AUDITQ_BAD_REQUEST', `${field}: ${message}`, { details })
}
