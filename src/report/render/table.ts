/**
 * A report for a terminal: fixed-width sections, counts right-aligned, the timeline as bars.
 * Stored strings pass through `printable`, so an event's text cannot move the cursor or
 * recolour the screen, and through `fit`, so a long value cannot break the columns.
 */
import { fit, printable } from '../../query/table.js'
import type { CountedValue, Report } from '../model.js'
import { bucketLabel, count, NO_MESSAGE, NONE, percent, periodTitle } from './labels.js'

const NAME_WIDTH = 40
const COUNT_WIDTH = 11
const BAR_WIDTH = 40

export function renderTable(report: Report): string {
  const lines: string[] = []
  const section = (title: string) => lines.push('', title)
  const row = (name: string, value: string, indent = 2) =>
    lines.push(' '.repeat(indent) + fit(printable(name), NAME_WIDTH - indent + 2) + value.padStart(COUNT_WIDTH))

  lines.push(`${periodTitle(report)}: ${report.period.from} to ${report.period.to} (UTC, end exclusive)`)
  lines.push(
    `tenant: ${report.tenant_id === null ? 'all' : printable(report.tenant_id)}   generated: ${report.generated_at}` +
      (report.complete ? '' : '   (period still running: figures may grow)'),
  )

  section('SUMMARY')
  row('events', count(report.summary.total))
  row('successes', count(report.summary.successes))
  row('failures', count(report.summary.failures))
  row('success rate', percent(report.summary.success_rate))

  section('BY CATEGORY')
  for (const [name, value] of Object.entries(report.by_category)) row(name, count(value))

  const list = (title: string, values: readonly CountedValue[]) => {
    section(`${title} (top ${report.top_n})`)
    if (values.length === 0) lines.push('  none')
    for (const { value, count: n } of values) row(value ?? NONE, count(n))
  }
  list('TOP ACTORS', report.top_actors)
  list('TOP ACTIONS', report.top_actions)
  list('TOP RESOURCE TYPES', report.top_resource_types)

  section(`FAILURES BY ACTION (top ${report.top_n}, with their most frequent errors)`)
  if (report.failures_by_action.length === 0) lines.push('  none')
  for (const failing of report.failures_by_action) {
    row(failing.action, count(failing.failures))
    for (const error of failing.top_errors) row(error.value ?? NO_MESSAGE, count(error.count), 6)
  }

  section(`EVENTS PER ${report.period.bucket.toUpperCase()}`)
  lines.push(`  ${'START (UTC)'.padEnd(18)}${'EVENTS'.padStart(COUNT_WIDTH)}${'FAILURES'.padStart(COUNT_WIDTH)}`)
  const peak = Math.max(1, ...report.timeline.map((bucket) => bucket.total))
  for (const bucket of report.timeline) {
    const bar = '#'.repeat(Math.round((bucket.total / peak) * BAR_WIDTH))
    lines.push(
      `  ${bucketLabel(bucket.start, report.period.bucket).padEnd(18)}${count(bucket.total).padStart(COUNT_WIDTH)}${count(bucket.failures).padStart(COUNT_WIDTH)}  ${bar}`,
    )
  }
  return lines.map((line) => line.trimEnd()).join('\n') + '\n'
}
