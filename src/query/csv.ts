import { EVENT_FIELDS, type AuditEvent } from '../event/types.js'

/**
 * RFC 4180 CSV. Cells that a spreadsheet would evaluate as a formula (leading = + - @, or a tab /
 * carriage return) are prefixed with an apostrophe: an audit export is exactly the file an
 * attacker would like an analyst to open in Excel.
 */
export function csvHeader(): string {
  return EVENT_FIELDS.join(',') + '\r\n'
}

export function csvRow(event: AuditEvent): string {
  return EVENT_FIELDS.map((field) => csvCell(event[field])).join(',') + '\r\n'
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text
}
