/**
 * A generated data set for report tests: deterministic (seeded), skewed like real traffic, with
 * absent values, hostile strings and events exactly on period boundaries, spanning a month end
 * and an ISO week that straddles it (Mon 2026-11-30 … Sun 2026-12-06).
 */
import type { AuditEvent, Category } from '../../src/event/types.js'
import { storedEvent } from './events.js'

export const DATASET_FROM = Date.parse('2026-11-24T00:00:00.000Z')
export const DATASET_TO = Date.parse('2026-12-09T00:00:00.000Z')

/** Boundaries a report must get exactly right: each is included by the period it starts. */
export const BOUNDARY_TIMES = [
  '2026-11-30T00:00:00.000Z', // Monday: starts an ISO week and a day
  '2026-11-30T23:59:59.999Z', // last millisecond of that day
  '2026-12-01T00:00:00.000Z', // starts a month
  '2026-12-07T00:00:00.000Z', // next Monday: not in the previous week
]

const TENANTS = ['acme', 'globex', 'initech']
const ACTIONS = ['login', 'logout', 'user.created', 'user.deleted', 'api_key.created', 'report.viewed', 'export.run', 'role.granted', 'a.b', 'Z.upper', 'é.accent', '=HYPERLINK("x")']
const RESOURCE_TYPES = ['user', 'api_key', 'report', 'role', '<b>type</b>', null]
const ERRORS = ['permission denied', 'timeout', 'not found', '"><img src=x onerror=alert(1)>', '+cmd|calc', null]
const CATEGORIES: Category[] = ['info', 'info', 'info', 'info', 'info', 'info', 'warning', 'warning', 'critical']

/** mulberry32: a tiny seeded PRNG, so a failing case can be rerun exactly. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export function generateEvents(count: number, seed = 42): AuditEvent[] {
  const next = random(seed)
  /** Skewed pick: low indexes far more often, like a few busy actors and many quiet ones. */
  const skewed = <T>(values: readonly T[]) => values[Math.floor(values.length * next() ** 2)]!
  const actors = Array.from({ length: 60 }, (_, i) => (i === 7 ? '<script>alert(1)</script>' : i === 8 ? '-2+3' : `user-${i}`))
  const events: AuditEvent[] = []
  for (let i = 0; i < count; i++) {
    const at = i < BOUNDARY_TIMES.length ? Date.parse(BOUNDARY_TIMES[i]!) : DATASET_FROM + Math.floor(next() * (DATASET_TO - DATASET_FROM))
    const failed = next() < 0.12
    events.push(
      storedEvent({
        tenant_id: skewed(TENANTS),
        occurred_at: new Date(at).toISOString(),
        received_at: new Date(at).toISOString(),
        action: skewed(ACTIONS),
        category: CATEGORIES[Math.floor(next() * CATEGORIES.length)]!,
        actor_id: next() < 0.05 ? null : skewed(actors),
        resource_type: skewed(RESOURCE_TYPES),
        success: !failed,
        error_message: failed ? skewed(ERRORS) : null,
      }),
    )
  }
  return events
}
