import type { HoldMatch } from '../integrity/types.js'

/**
 * A legal hold: while active (not released), retention deletes no event of its tenant that it
 * matches (see `HoldMatch`). Holds are released, never deleted, so the record of who held what,
 * why, and who let it go stays in the store beside the audited `auditq.hold.*` events.
 */
export interface LegalHold extends HoldMatch {
  id: string
  tenant_id: string
  reason: string
  created_at: string
  /** Who created it: the API key id, or `cli:<user>` for the command line. */
  created_by: string
  released_at: string | null
  released_by: string | null
}

/** A tenant's own retention, replacing the global `retention.days` / `retention.keepActions` for it. */
export interface TenantRetention {
  tenant_id: string
  days: number
  keep_actions: string[]
  updated_at: string
}

/**
 * Where holds and per-tenant retention live (both stores, migration 70). Retention reads them at
 * the start of every run; the HTTP routes and the CLI change them.
 */
export interface RetentionRulesStore {
  createHold(hold: LegalHold): Promise<void>
  /** Active holds (all of them with `includeReleased`), oldest first; `tenant_id` narrows to one tenant. */
  listHolds(options?: { tenant_id?: string; includeReleased?: boolean }): Promise<LegalHold[]>
  /** Marks the hold released; null when no hold has that id, the hold unchanged when it was released already. */
  releaseHold(id: string, release: { released_at: string; released_by: string }): Promise<LegalHold | null>
  setTenantRetention(rule: TenantRetention): Promise<void>
  /** True when the tenant had its own retention (it now follows the global rule). */
  clearTenantRetention(tenant_id: string): Promise<boolean>
  listTenantRetention(): Promise<TenantRetention[]>
}

/** The holds of one tenant as a cut records them: match fields only, in a stable order, duplicates removed. */
export function holdMatchesOf(holds: readonly LegalHold[], tenant_id: string): HoldMatch[] {
  const seen = new Map<string, HoldMatch>()
  for (const hold of holds) {
    if (hold.tenant_id !== tenant_id || hold.released_at !== null) continue
    const match = { actor_id: hold.actor_id, resource_type: hold.resource_type, resource_id: hold.resource_id }
    seen.set(JSON.stringify([match.actor_id, match.resource_type, match.resource_id]), match)
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, match]) => match)
}

/** A hold that names no actor and no resource keeps its whole tenant. */
export function holdsWholeTenant(match: HoldMatch): boolean {
  return match.actor_id === null && match.resource_type === null
}
