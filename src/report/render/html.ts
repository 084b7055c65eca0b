/**
 * A report as one self-contained, printable HTML page: inline CSS, no script, no external
 * resource (a Content-Security-Policy meta tag forbids loading any), bars drawn with CSS widths.
 *
 * Every stored string goes through `escapeHtml` via `text()`; numbers are formatted by us. The
 * page is assembled from literal markup and those two kinds of value only, so an event whose
 * fields hold `<script>` or `"><img onerror=…>` renders as that text.
 */
import type { CountedValue, Report } from '../model.js'
import { escapeHtml } from './escape.js'
import { bucketLabel, count, NO_MESSAGE, NONE, percent, periodTitle } from './labels.js'

const STYLE = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
.meta { color: #57606a; margin: 0; }
.warn { color: #9a6700; }
.grid { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.grid > section { flex: 1 1 17rem; min-width: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.v { overflow-wrap: anywhere; }
tr.sub td.v { padding-left: 1.5rem; color: #57606a; }
.none { color: #8c959f; font-style: italic; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
.bar { height: .7rem; background: #0969da; }
.bar.fail { background: #cf222e; }
td.barcell { width: 45%; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .grid > section, table, tr { break-inside: avoid; }
  .bar { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}`

export function renderHtml(report: Report): string {
  const title = periodTitle(report)
  const tenant = report.tenant_id === null ? 'all tenants' : `tenant ${text(report.tenant_id)}`
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(title)} — ${text(report.period.from.slice(0, 10))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${text(title)}</h1>
<p class="meta">${text(report.period.from)} to ${text(report.period.to)} (UTC, end exclusive) · ${tenant} · generated ${text(report.generated_at)}</p>
${report.complete ? '' : '<p class="meta warn">The period has not ended yet: these figures may still grow.</p>'}
<h2>Summary</h2>
<div class="cards">
${card('Events', count(report.summary.total))}
${card('Successes', count(report.summary.successes))}
${card('Failures', count(report.summary.failures))}
${card('Success rate', percent(report.summary.success_rate))}
</div>
<div class="grid">
<section><h2>Events per category</h2>${countTable('Category', Object.entries(report.by_category).map(([value, n]) => ({ value, count: n })))}</section>
<section><h2>Top actors</h2>${countTable('Actor', report.top_actors)}</section>
<section><h2>Top actions</h2>${countTable('Action', report.top_actions)}</section>
<section><h2>Top resource types</h2>${countTable('Resource type', report.top_resource_types)}</section>
</div>
<h2>Failures by action, with their most frequent errors</h2>
${failureTable(report)}
<h2>Events per ${text(report.period.bucket)}</h2>
${timelineTable(report)}
</body>
</html>
`
}

/** Escapes a stored or computed string for HTML text or a quoted attribute. */
function text(value: string): string {
  return escapeHtml(value)
}

function card(label: string, value: string): string {
  return `<div class="card">${text(label)}<b>${text(value)}</b></div>`
}

function valueCell(value: string | null, absent: string): string {
  return value === null ? `<td class="v none">${text(absent)}</td>` : `<td class="v">${text(value)}</td>`
}

function countTable(heading: string, values: readonly CountedValue[]): string {
  if (values.length === 0) return '<p class="none">none</p>'
  const rows = values.map(({ value, count: n }) => `<tr>${valueCell(value, NONE)}<td class="n">${count(n)}</td></tr>`)
  return `<table><thead><tr><th>${text(heading)}</th><th class="n">Events</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`
}

function failureTable(report: Report): string {
  if (report.failures_by_action.length === 0) return '<p class="none">No failures in this period.</p>'
  const rows = report.failures_by_action.flatMap((failing) => [
    `<tr><td class="v"><b>${text(failing.action)}</b></td><td class="n"><b>${count(failing.failures)}</b></td></tr>`,
    ...failing.top_errors.map((error) => `<tr class="sub">${valueCell(error.value, NO_MESSAGE)}<td class="n">${count(error.count)}</td></tr>`),
  ])
  return `<table><thead><tr><th>Action / error message</th><th class="n">Failures</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`
}

function timelineTable(report: Report): string {
  const peak = Math.max(1, ...report.timeline.map((bucket) => bucket.total))
  const width = (n: number) => `${((n / peak) * 100).toFixed(1)}%`
  const rows = report.timeline.map(
    (bucket) =>
      `<tr><td>${text(bucketLabel(bucket.start, report.period.bucket))}</td><td class="n">${count(bucket.total)}</td><td class="n">${count(bucket.failures)}</td>` +
      `<td class="barcell"><div class="bar" style="width:${width(bucket.total)}"></div><div class="bar fail" style="width:${width(bucket.failures)}"></div></td></tr>`,
  )
  return `<table><thead><tr><th>Start (UTC)</th><th class="n">Events</th><th class="n">Failures</th><th></th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`
}
