import type { Report } from '../model.js'
import type { ReportFormat } from '../params.js'
import { renderCsv } from './csv.js'
import { renderHtml } from './html.js'
import { renderJson } from './json.js'
import { renderTable } from './table.js'

export const RENDERERS: Record<ReportFormat, (report: Report) => string> = {
  json: renderJson,
  csv: renderCsv,
  html: renderHtml,
  table: renderTable,
}

export const CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  table: 'text/plain; charset=utf-8',
}
