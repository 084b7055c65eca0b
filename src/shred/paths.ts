/** Reading, writing and clearing a sealable field path (`ip_address`, `metadata.user.email`) on an event. */
import type { AuditEvent } from '../event/types.js'

type Bag = Record<string, unknown>

/** Keys that would reach an object's prototype instead of a property of its own. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

function split(path: string): string[] {
  const keys = path.split('.')
  if (keys.some((key) => UNSAFE_KEYS.has(key))) throw new Error(`unsafe field path: ${path}`)
  return keys
}

function isBag(value: unknown): value is Bag {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function readPath(event: AuditEvent, path: string): unknown {
  let node: unknown = event
  for (const key of split(path)) {
    if (!isBag(node) || !Object.hasOwn(node, key)) return undefined
    node = node[key]
  }
  return node
}

/** A top-level field becomes null (every key stays present); a metadata key is removed. */
export function clearPath(event: AuditEvent, path: string): void {
  const keys = split(path)
  if (keys.length === 1) {
    ;(event as unknown as Bag)[path] = null
    return
  }
  const parent = readPath(event, keys.slice(0, -1).join('.'))
  if (isBag(parent)) delete parent[keys.at(-1)!]
}

/** Puts a value back at its path, recreating metadata objects a clear left empty or missing. */
export function writePath(event: AuditEvent, path: string, value: unknown): void {
  const keys = split(path)
  let node = event as unknown as Bag
  for (const key of keys.slice(0, -1)) {
    if (!isBag(node[key])) node[key] = {}
    node = node[key] as Bag
  }
  node[keys.at(-1)!] = value
}
