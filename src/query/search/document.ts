/**
 * What word search indexes for one event: the action, the description, the actor's and the
 * resources' names and ids, and every metadata value (not the keys). One function, one list: a
 * field added to events is searchable once it is named here.
 */
import type { AuditEvent } from '../../event/types.js'
import { MAX_DOCUMENT_TOKENS, tokenize } from './tokens.js'

/** Fields read off the event when present; fields an older or newer event lacks are skipped. */
const TEXT_FIELDS = ['action', 'description', 'actor_id', 'actor_name', 'resource_type', 'resource_id'] as const

/** The event's search tokens, in a fixed order (phrases match within the order of this document). */
export function searchTokens(event: AuditEvent): string[] {
  const row = event as AuditEvent & Record<string, unknown>
  const tokens: string[] = []
  const add = (value: unknown) => {
    if (tokens.length >= MAX_DOCUMENT_TOKENS) return
    if (typeof value === 'string') tokens.push(...tokenize(value))
    else if (typeof value === 'number' || typeof value === 'boolean') tokens.push(...tokenize(String(value)))
  }
  for (const field of TEXT_FIELDS) add(row[field])
  // `targets` (when events carry them): each target's type, id and name.
  if (Array.isArray(row.targets)) {
    for (const target of row.targets as unknown[]) {
      if (target && typeof target === 'object') for (const key of ['type', 'id', 'name']) add((target as Record<string, unknown>)[key])
    }
  }
  walkValues(row.metadata, add)
  return tokens.length > MAX_DOCUMENT_TOKENS ? tokens.slice(0, MAX_DOCUMENT_TOKENS) : tokens
}

/** Leaf values of a JSON value, depth first, keys in their stored order. */
function walkValues(value: unknown, visit: (leaf: unknown) => void): void {
  if (Array.isArray(value)) for (const item of value) walkValues(item, visit)
  else if (value !== null && typeof value === 'object') for (const key of Object.keys(value).sort()) walkValues((value as Record<string, unknown>)[key], visit)
  else visit(value)
}
