/**
 * A report as one tidy CSV table, `section,name,detail,value`: one figure per line, so a
 * spreadsheet can filter or pivot it and a script can read it without knowing the layout.
 * Cells go through the export's `csvCell`, which neutralizes formula injection (`=`, `+`, `-`,
 * `@` leading a stored value, also behind spaces or line breaks, gets a `'`).
 */
import { csvCell } from '../../query/csv.js'
import type { Report } from '../model.js'

export function renderCsv(report: Report): string {
  const rows: unknown[][] = [['section', 'name', 'detail', 'value']]
  const add = (section: string, name: unknown, detail: unknown, value: unknown) => rows.push([section, name, detail, value])
  add('period', 'kind', null, report.period.kind)
  add('period', 'from', null, report.period.from)
  add('period', 'to', null, report.period.to)
  add('period', 'bucket', null, report.period.bucket)
  add('period', 'tenant_id', null, report.tenant_id)
  add('period', 'generated_at', null, report.generated_at)
  add('period', 'complete', null, report.complete)
  for (const [name, value] of Object.entries(report.summary)) add('summary', name, null, value)
  for (const [name, value] of Object.entries(report.by_category)) add('category', name, null, value)
  for (const { value, count } of report.top_actors) add('top_actor', value, null, count)
  for (const { value, count } of report.top_actions) add('top_action', value, null, count)
  for (const { value, count } of report.top_resource_types) add('top_resource_type', value, null, count)
  for (const failing of report.failures_by_action) {
    add('failure_action', failing.action, null, failing.failures)
    for (const error of failing.top_errors) add('failure_error', failing.action, error.value, error.count)
  }
  for (const bucket of report.timeline) {
    add('timeline', bucket.start, 'total', bucket.total)
    add('timeline', bucket.start, 'failures', bucket.failures)
  }
  return rows.map((row) => row.map(csvCell).join(',') + '\r\n').join('')
}
