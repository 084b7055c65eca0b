/**
 * The PostgreSQL insert with hash chaining: one statement (INSERT_CHAINED_SQL), so one round trip
 * and its own transaction, in which the server locks the batch's tenant heads, numbers and links
 * the events (from content digests computed here, before the statement) and inserts them. A batch
 * that fails for its content rolls back whole, so a head never advances past an event that was
 * not stored (isolating-insert's bisection relies on that).
 */
import type pg from 'pg'
import type { AuditEvent } from '../../event/types.js'
import { contentDigest, GENESIS_HASH } from '../../integrity/canonical.js'
import type { InsertResult } from '../store.js'
import { DUPLICATE_SQLSTATE, EXISTING_IDS_SQL, INSERT_CHAINED_NAME, INSERT_CHAINED_SQL } from './chain-sql.js'
import { unnestParams } from './sql.js'

/**
 * A concurrent batch may store one of our ids while we wait for a head (the conflict would skip a
 * row we had numbered): the statement then fails with DUPLICATE_SQLSTATE, we learn which ids
 * exist and try again without them. Each retry learns at least one id.
 */
const MAX_ATTEMPTS = 5

/** Ids are unique per tenant (migration 4): the identity of an event is the pair. */
function eventKey(tenantId: string, id: string): string {
  return `${tenantId}\u0000${id.toLowerCase()}`
}

export async function insertChained(pool: pg.Pool, events: readonly AuditEvent[]): Promise<InsertResult> {
  // The first copy of a (tenant, id) within the batch wins, as with ON CONFLICT DO NOTHING.
  const unique = new Map<string, AuditEvent>()
  for (const event of events) {
    const key = eventKey(event.tenant_id, event.id)
    if (!unique.has(key)) unique.set(key, event)
  }
  const digests = new Map([...unique.values()].map((event) => [event, contentDigest(event)]))
  const known = new Set<string>()
  for (let attempt = 1; ; attempt++) {
    const fresh = [...unique.entries()].filter(([id]) => !known.has(id)).map(([, event]) => event)
    if (fresh.length === 0) return { inserted: 0, duplicates: events.length }
    try {
      await pool.query({
        name: INSERT_CHAINED_NAME,
        text: INSERT_CHAINED_SQL,
        values: [...unnestParams(fresh), ...tenantSlots(fresh), Buffer.concat(fresh.map((event) => digests.get(event)!)), GENESIS_HASH],
      })
      return { inserted: fresh.length, duplicates: events.length - fresh.length }
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_SQLSTATE || attempt >= MAX_ATTEMPTS) throw error
    }
    const existing = await pool.query<{ tenant_id: string; id: string }>(EXISTING_IDS_SQL, [
      fresh.map((event) => event.tenant_id),
      fresh.map((event) => event.id),
    ])
    for (const row of existing.rows) known.add(eventKey(row.tenant_id, row.id))
  }
}

/** The batch's distinct tenants, and for each event the 1-based position of its tenant among them. */
export function tenantSlots(events: readonly AuditEvent[]): [string[], number[]] {
  const tenants: string[] = []
  const positions = new Map<string, number>()
  const slots = events.map((event) => {
    let slot = positions.get(event.tenant_id)
    if (slot === undefined) {
      slot = tenants.push(event.tenant_id)
      positions.set(event.tenant_id, slot)
    }
    return slot
  })
  return [tenants, slots]
}
