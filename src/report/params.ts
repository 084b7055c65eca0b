/**
 * Untrusted report parameters (a query string, CLI flags in wire names) → a checked request.
 * Every problem is collected and reported at once; unknown keys are refused by name, like
 * `parseEventFilter`, so a typo never widens a report silently.
 */
import type { FieldError } from '../event/types.js'
import { badRequest, parseInstant, single } from '../query/filter.js'
import { PERIOD_KINDS, type PeriodKind, type PeriodRequest } from './period.js'

export const REPORT_FORMATS = ['json', 'csv', 'html', 'table'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

export interface ReportLimits {
  defaultTopN: number
  maxTopN: number
}

export interface ReportRequest {
  period: PeriodRequest
  tenantId?: string
  topN: number
  format: ReportFormat
}

const KEYS = ['period', 'date', 'from', 'to', 'tenant_id', 'top', 'format'] as const
const MAX_TENANT_LENGTH = 256

export function parseReportRequest(
  raw: Record<string, unknown>,
  options: { limits: ReportLimits; formats: readonly ReportFormat[]; defaultFormat: ReportFormat },
): ReportRequest {
  const errors: FieldError[] = []
  const allowed = new Set<string>(KEYS)
  for (const key of Object.keys(raw)) {
    if (!allowed.has(key)) {
      errors.push({ field: key, rule: 'unknown_parameter', message: `unknown parameter; expected one of ${KEYS.join(', ')}` })
    }
  }
  const period = parsePeriod(raw, errors)
  const tenantId = single(raw, 'tenant_id', errors)
  if (tenantId !== undefined && (tenantId.length === 0 || tenantId.length > MAX_TENANT_LENGTH || tenantId.includes('\u0000'))) {
    errors.push({ field: 'tenant_id', rule: 'length', message: `must be 1–${MAX_TENANT_LENGTH} characters without NUL` })
  }
  const topN = parseTop(single(raw, 'top', errors), options.limits, errors)
  const format = single(raw, 'format', errors) ?? options.defaultFormat
  if (!(options.formats as readonly string[]).includes(format)) {
    errors.push({ field: 'format', rule: 'enum', message: `must be one of ${options.formats.join(', ')}` })
  }
  if (errors.length > 0 || period === undefined) throw badRequest(errors)
  return { period, topN, format: format as ReportFormat, ...(tenantId !== undefined ? { tenantId } : {}) }
}

/** Either `period` (with an optional `date`) or both `from` and `to`; never a mix. */
function parsePeriod(raw: Record<string, unknown>, errors: FieldError[]): PeriodRequest | undefined {
  const kind = single(raw, 'period', errors)
  const date = single(raw, 'date', errors)
  const fromText = single(raw, 'from', errors)
  const toText = single(raw, 'to', errors)
  // Present but unreadable (e.g. given twice): `single` has reported it; say nothing more.
  if (errors.some((error) => ['period', 'date', 'from', 'to'].includes(error.field))) return undefined
  if (kind !== undefined) {
    if (fromText !== undefined || toText !== undefined) {
      errors.push({ field: fromText !== undefined ? 'from' : 'to', rule: 'exclusive', message: 'give either period (and date) or from and to, not both' })
      return undefined
    }
    if (!(PERIOD_KINDS as readonly string[]).includes(kind)) {
      errors.push({ field: 'period', rule: 'enum', message: `must be one of ${PERIOD_KINDS.join(', ')}` })
      return undefined
    }
    return { kind: kind as PeriodKind, ...(date !== undefined ? { date } : {}) }
  }
  if (date !== undefined) {
    errors.push({ field: 'date', rule: 'requires', message: 'date needs period=daily|weekly|monthly' })
    return undefined
  }
  if (fromText === undefined || toText === undefined) {
    const field = fromText === undefined && toText === undefined ? 'period' : fromText === undefined ? 'from' : 'to'
    errors.push({ field, rule: 'required', message: 'give period=daily|weekly|monthly (and date), or both from and to' })
    return undefined
  }
  const from = parseInstant(fromText)
  const to = parseInstant(toText)
  const message = 'must be an ISO-8601 time with a zone (e.g. 2026-01-31T00:00:00Z), a date, or epoch milliseconds, between 1970 and 9999'
  if (from === undefined) errors.push({ field: 'from', rule: 'timestamp', message })
  if (to === undefined) errors.push({ field: 'to', rule: 'timestamp', message })
  return from !== undefined && to !== undefined ? { kind: 'custom', from, to } : undefined
}

function parseTop(value: string | undefined, limits: ReportLimits, errors: FieldError[]): number {
  if (value === undefined) return limits.defaultTopN
  const top = /^\d{1,4}$/.test(value) ? Number(value) : NaN
  if (!(top >= 1 && top <= limits.maxTopN)) {
    errors.push({ field: 'top', rule: 'range', message: `must be an integer from 1 to ${limits.maxTopN}` })
    return limits.defaultTopN
  }
  return top
}
