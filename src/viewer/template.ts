/**
 * Display templates per action: `"{actor_name} invited {targets.user.name} to {targets.team.name}"`.
 * The result is plain text, never markup: callers put it into the page with `textContent` (the
 * viewer, the dashboard) or escape it (the HTML report), so a payload in any field or in the
 * template itself stays text. No imports: the viewer's browser bundle includes this file as is.
 *
 * Placeholders name a path into the event: a top-level field (`actor_name`, `resource_id`),
 * `metadata.<key>…`, `changes.<field>.before|after`, or `targets.<type>.<key>` (the first target
 * of that type). When any placeholder has no text value, the whole line falls back to the plain
 * summary, so a half-filled sentence ("invited  to ") is never shown.
 */
export type DisplayTemplates = Readonly<Record<string, string>>

type EventLike = Record<string, unknown>

const PLACEHOLDER = /\{([A-Za-z0-9_.:-]{1,200})\}/g

export function renderDisplayLine(event: EventLike, templates: DisplayTemplates): string {
  const action = typeof event.action === 'string' ? event.action : ''
  const template = Object.prototype.hasOwnProperty.call(templates, action) ? templates[action] : undefined
  if (typeof template === 'string') {
    const rendered = fillTemplate(template, event)
    if (rendered !== null) return rendered
  }
  return fallbackLine(event)
}

/** The template with every placeholder filled, or null when one of them has no value. */
export function fillTemplate(template: string, event: EventLike): string | null {
  let missing = false
  const text = template.replace(PLACEHOLDER, (_whole, path: string) => {
    const value = lookup(event, path)
    if (value === undefined) missing = true
    return value ?? ''
  })
  return missing ? null : text
}

/** "Alice (u-1) · user.invited · team/t-9": who, what, on what, from whatever the event has. */
export function fallbackLine(event: EventLike): string {
  const name = textOf(event.actor_name)
  const id = textOf(event.actor_id)
  const who = name !== undefined ? (id !== undefined && id !== name ? `${name} (${id})` : name) : (id ?? 'unknown actor')
  const parts = [who, textOf(event.action) ?? '']
  const type = textOf(event.resource_type)
  const resource = textOf(event.resource_id)
  if (type !== undefined || resource !== undefined) parts.push([type, resource].filter((p) => p !== undefined).join('/'))
  return parts.join(' · ')
}

function lookup(event: EventLike, path: string): string | undefined {
  const [head, ...rest] = path.split('.')
  if (head === undefined) return undefined
  if (head === 'targets') {
    const [type, ...inner] = rest
    const targets = event.targets
    if (!Array.isArray(targets) || type === undefined) return undefined
    const target = targets.find((t: unknown) => isRecord(t) && t.type === type)
    return textOf(dig(target, inner.length > 0 ? inner : ['name']))
  }
  return textOf(dig(own(event, head), rest))
}

function dig(value: unknown, keys: string[]): unknown {
  let current = value
  for (const key of keys) {
    if (!isRecord(current)) return undefined
    current = own(current, key)
  }
  return current
}

/** Own properties only: `{constructor}` or `{__proto__}` must not reach the prototype. */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return undefined
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
