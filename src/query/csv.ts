import { EVENT_FIELDS, type AuditEvent } from '../event/types.js'

/**
 * RFC 4180 CSV. Cells that a spreadsheet would evaluate as a formula (leading = + - @, or a tab /
 * carriage return) are prefixed with an apostrophe: an audit export is exactly the file an
 * attacker would like an analyst to open in Excel. Spreadsheets skip leading spaces, line breaks
 * and other invisible characters when they decide a cell is a formula (` =1+1` and `\n=2+2` both
 * run), so a trigger behind any run of them counts too; so do the full-width = + - @, which some
 * locales' spreadsheets read as their ASCII twins.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what a spreadsheet skips
const FORMULA_START = /^[\s\u0000-\u001f\u007f-\u009f\u200b-\u200d\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r]/
export function csvHeader(): string {
  return EVENT_FIELDS.join(',') + '\r\n'
}

export function csvRow(event: AuditEvent): string {
  return EVENT_FIELDS.map((field) => csvCell(event[field])).join(',') + '\r\n'
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  if (FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text
}
