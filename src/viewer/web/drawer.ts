import { fallbackLine, renderDisplayLine } from '../template.js'
import type { ViewerEvent } from './api.js'
import { el, show } from './dom.js'
import type { Formats } from './format.js'

const DETAIL_FIELDS: Array<[string, string]> = [
  ['occurred_at', 'Time'],
  ['action', 'Action'],
  ['actor_name', 'Actor name'],
  ['actor_id', 'Actor'],
  ['actor_type', 'Actor type'],
  ['resource_type', 'Resource type'],
  ['resource_id', 'Resource'],
  ['success', 'Outcome'],
  ['error_message', 'Error'],
  ['description', 'Description'],
  ['ip_address', 'IP address'],
  ['user_agent', 'User agent'],
  ['session_id', 'Session'],
  ['request_id', 'Request'],
  ['id', 'Event id'],
]

/** The detail drawer's content: fields, targets, changes as a before/after table, metadata, integrity. */
export function drawerContent(event: ViewerEvent, templates: Record<string, string>, formats: Formats, headingId: string): Node[] {
  const fields = el('dl', { part: 'drawer-fields' })
  for (const [key, label] of DETAIL_FIELDS) {
    const value = event[key]
    if (value === null || value === undefined || value === '') continue
    const text = key === 'occurred_at' ? formats.time(String(value)) : key === 'success' ? (value ? 'Succeeded' : 'Failed') : show(value)
    fields.append(el('dt', {}, label), el('dd', { 'data-field': key }, text))
  }
  const nodes: Node[] = [el('h2', { id: headingId }, safeLine(event, templates)), fields]
  const targets = Array.isArray(event.targets) ? (event.targets as unknown[]) : []
  if (targets.length > 0) {
    const list = el('ul', { part: 'drawer-targets' })
    for (const target of targets) {
      const t = (typeof target === 'object' && target !== null ? target : {}) as Record<string, unknown>
      list.append(el('li', {}, `${show(t.type)}: ${t.name !== undefined && t.name !== null ? `${show(t.name)} (${show(t.id)})` : show(t.id)}`))
    }
    nodes.push(el('h3', {}, 'Targets'), list)
  }
  const changes = event.changes
  if (typeof changes === 'object' && changes !== null && !Array.isArray(changes) && Object.keys(changes).length > 0) {
    const body = el('tbody')
    for (const [field, change] of Object.entries(changes as Record<string, unknown>)) {
      const c = (typeof change === 'object' && change !== null ? change : {}) as Record<string, unknown>
      body.append(el('tr', {}, el('th', { scope: 'row' }, field), el('td', { class: 'before' }, el('pre', {}, show(c.before))), el('td', { class: 'after' }, el('pre', {}, show(c.after)))))
    }
    const table = el('table', { class: 'diff', part: 'drawer-changes' }, el('caption', { class: 'visually-hidden' }, 'Changes: each field before and after'), el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Field'), el('th', { scope: 'col' }, 'Before'), el('th', { scope: 'col' }, 'After'))), body)
    nodes.push(el('h3', {}, 'Changes'), table)
  }
  const metadata = event.metadata
  if (typeof metadata === 'object' && metadata !== null && Object.keys(metadata).length > 0) {
    nodes.push(el('h3', {}, 'Metadata'), el('pre', { part: 'drawer-metadata' }, JSON.stringify(metadata, null, 2)))
  }
  const integrity = el('p', { part: 'drawer-integrity', role: 'status' })
  showIntegrity(integrity, { status: 'checking' })
  nodes.push(el('h3', {}, 'Integrity'), integrity)
  return nodes
}

/** The row's one-line summary: the action's template, or the plain line when it has none or it fails. */
export function safeLine(event: ViewerEvent, templates: Record<string, string>): string {
  try {
    return renderDisplayLine(event, templates)
  } catch {
    return fallbackLine(event)
  }
}

/** Fills the drawer's integrity line once the service has checked the event's place in its chain. */
export function showIntegrity(line: Element, result: { status: string; detail?: string } | null): void {
  line.setAttribute('data-integrity', result?.status ?? 'unknown')
  line.textContent = integrityText(result)
}

function integrityText(result: { status: string; detail?: string } | null): string {
  switch (result?.status) {
    case 'intact':
      return `Intact: this event's hash matches its content, and its place in the hash chain holds${result.detail ? ` (${result.detail})` : ''}.`
    case 'broken':
      return `Broken: ${result.detail ?? 'this event does not match its hash chain'}.`
    case 'unchained':
      return 'Not chained: this event was stored without a hash-chain position.'
    case 'checking':
      return 'Checking the hash chain…'
    default:
      return 'The hash chain could not be checked for this event.'
  }
}
