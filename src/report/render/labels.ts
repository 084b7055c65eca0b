/** Wording shared by the human-readable renderers (table, HTML). */
import type { Report } from '../model.js'

export const NONE = '(none)'
export const NO_MESSAGE = '(no message)'

export function periodTitle(report: Report): string {
  const kind = report.period.kind === 'custom' ? 'Custom range' : capitalize(report.period.kind)
  return `${kind} audit report`
}

export function percent(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(2)}%`
}

export function count(value: number): string {
  return value.toLocaleString('en-US')
}

/** A bucket's start as a label: `2026-11-20 13:00` for hours, `2026-11-20 Fri` for days. */
export function bucketLabel(start: string, bucket: Report['period']['bucket']): string {
  if (bucket === 'hour') return `${start.slice(0, 10)} ${start.slice(11, 16)}`
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][new Date(start).getUTCDay()]
  return `${start.slice(0, 10)} ${weekday}`
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
