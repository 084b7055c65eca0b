/**
 * The PostgreSQL insert with hash chaining: one statement (INSERT_CHAINED_SQL), so one round trip
 * and its own transaction, in which the server locks the batch's tenant heads, links the events
 * (from content digests computed here, before the statement) and inserts them. A batch that fails
 * for its content rolls back whole, so a head never advances past an event that was not stored
 * (isolating-insert's bisection relies on that).
 */
import type pg from 'pg'
import type { AuditEvent } from '../../event/types.js'
import { contentDigest, GENESIS_HASH, hashBytes, link } from '../../integrity/canonical.js'
import type { InsertResult } from '../store.js'
import { EXISTING_IDS_SQL, INSERT_CHAINED_NAME, INSERT_CHAINED_SQL, isDuplicateId } from './chain-sql.js'
import { ChainHeadCache } from './head-cache.js'
import { unnestParams } from './sql.js'

/**
 * A concurrent batch may store one of our ids while we wait for a head: the statement then fails
 * with a unique violation on the key (rolling its numbering back), we learn which ids exist and
 * try again without them. Each retry learns at least one id.
 */
const MAX_ATTEMPTS = 5

/** Ids are unique per tenant (migration 4): the identity of an event is the pair. */
function eventKey(tenantId: string, id: string): string {
  return `${tenantId}\u0000${id.toLowerCase()}`
}

interface ChainedResult {
  end_seqs: string[]
  end_hashes: string[]
  taken: boolean
}

export async function insertChained(pool: pg.Pool, events: readonly AuditEvent[], heads: ChainHeadCache): Promise<InsertResult> {
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
    const { tenants, slots, ranks, before } = tenantSlots(fresh)
    const packed = Buffer.concat(fresh.map((event) => digests.get(event)!))
    const claim = heads.claim(tenants)
    try {
      const expected = claim ? precomputeLinks(claim, slots, fresh.map((event) => digests.get(event)!)) : null
      const { rows } = await pool.query<ChainedResult>({
        name: INSERT_CHAINED_NAME,
        text: INSERT_CHAINED_SQL,
        values: [
          ...unnestParams(fresh),
          tenants,
          slots,
          ranks,
          before,
          packed,
          GENESIS_HASH,
          claim?.map((head) => head.seq) ?? null,
          claim?.map((head) => head.hash) ?? null,
          expected,
        ],
      })
      const result = rows[0]!
      heads.settle(tenants, result.end_seqs.map(Number), result.end_hashes, { offered: claim !== null, taken: result.taken })
      return { inserted: fresh.length, duplicates: events.length - fresh.length }
    } catch (error) {
      heads.fail(tenants)
      if (!isDuplicateId(error) || attempt >= MAX_ATTEMPTS) throw error
    } finally {
      heads.release()
    }
    const existing = await pool.query<{ tenant_id: string; id: string }>(EXISTING_IDS_SQL, [
      fresh.map((event) => event.tenant_id),
      fresh.map((event) => event.id),
    ])
    for (const row of existing.rows) known.add(eventKey(row.tenant_id, row.id))
  }
}

/** The links the server will compute if the heads are still the ones this process last wrote. */
function precomputeLinks(claim: ReadonlyArray<{ hash: string }>, slots: readonly number[], digests: readonly Buffer[]): Buffer {
  const current = claim.map((head) => hashBytes(head.hash))
  const links = Buffer.allocUnsafe(digests.length * 32)
  digests.forEach((digest, i) => {
    const slot = slots[i]! - 1
    const next = link(current[slot]!, digest)
    next.copy(links, i * 32)
    current[slot] = next
  })
  return links
}

/**
 * The batch's distinct tenants, and for each event: the 1-based position of its tenant among them
 * (slot), its rank within its tenant in this batch (1, 2, …), and the 1-based batch position of
 * its tenant's previous event (0 when it is the tenant's first). The statement numbers and links
 * rows from these without sorting.
 */
export function tenantSlots(events: readonly AuditEvent[]): { tenants: string[]; slots: number[]; ranks: number[]; before: number[] } {
  const tenants: string[] = []
  const positions = new Map<string, number>()
  const counts: number[] = []
  const last: number[] = []
  const slots: number[] = []
  const ranks: number[] = []
  const before: number[] = []
  events.forEach((event, i) => {
    let slot = positions.get(event.tenant_id)
    if (slot === undefined) {
      slot = tenants.push(event.tenant_id)
      positions.set(event.tenant_id, slot)
      counts[slot] = 0
      last[slot] = 0
    }
    counts[slot]! += 1
    slots.push(slot)
    ranks.push(counts[slot]!)
    before.push(last[slot]!)
    last[slot] = i + 1
  })
  return { tenants, slots, ranks, before }
}
