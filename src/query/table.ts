import type { AuditEvent } from '../event/types.js'

const COLUMNS: { title: string; width: number; value: (event: AuditEvent) => string }[] = [
  { title: 'OCCURRED_AT', width: 24, value: (e) => e.occurred_at },
  { title: 'ACTION', width: 28, value: (e) => e.action },
  { title: 'CATEGORY', width: 8, value: (e) => e.category },
  { title: 'ACTOR', width: 20, value: (e) => e.actor_id ?? '' },
  { title: 'RESOURCE', width: 28, value: (e) => [e.resource_type, e.resource_id].filter(Boolean).join(':') },
  { title: 'OK', width: 3, value: (e) => (e.success ? 'yes' : 'NO') },
  { title: 'IP', width: 15, value: (e) => e.ip_address ?? '' },
  { title: 'ID', width: 36, value: (e) => e.id },
]

/** A fixed-width table for terminals; control characters are shown escaped so a stored value cannot drive the terminal. */
export function renderTable(events: readonly AuditEvent[]): string {
  const header = COLUMNS.map((column) => column.title.padEnd(column.width)).join('  ')
  const rows = events.map((event) =>
    COLUMNS.map((column) => fit(printable(column.value(event)), column.width)).join('  '),
  )
  return [header, ...rows].map((line) => line.trimEnd()).join('\n') + '\n'
}

/** Pads or cuts `text` to exactly `width` characters, marking a cut with an ellipsis. */
export function fit(text: string, width: number): string {
  return text.length > width ? text.slice(0, width - 1) + '…' : text.padEnd(width)
}

/** Control characters shown escaped (a tab as `\x09`), so a stored value cannot drive the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
