/**
 * The PostgreSQL insert with hash chaining: one statement (INSERT_LINKED_SQL), so one round trip
 * and its own transaction, in which the server inserts the events, then locks the batch's tenant
 * heads, links the events (from content digests computed here, before the statement) and writes
 * the link rows. A batch that fails for its content rolls back whole, so a head never advances
 * past an event that was not stored (isolating-insert's bisection relies on that).
 */
import type pg from 'pg'
import type { AuditEvent } from '../../event/types.js'
import { GENESIS_HASH, hashBytes, linkRun, packedContentDigests } from '../../integrity/canonical.js'
import type { InsertResult } from '../store.js'
import { INSERT_LINKED_NAME, INSERT_LINKED_SQL } from './chain-links-sql.js'
import { EXISTING_IDS_SQL, isDuplicateId, isDeadlock } from './chain-sql.js'
import { ChainHeadCache } from './head-cache.js'
import { unnestParams } from './sql.js'

/**
 * A concurrent batch may store one of our ids first: the statement then fails with a unique
 * violation on the key (rolling everything back), we learn which ids exist and try again without
 * them. Each such retry learns at least one id. Two batches inserting the same ids in different
 * orders can also deadlock on them (PostgreSQL aborts one; only redelivered queue batches share
 * ids): that one is simply tried again.
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
  const seen = new Set<string>()
  const firsts: AuditEvent[] = []
  for (const event of events) {
    const key = eventKey(event.tenant_id, event.id)
    if (seen.has(key)) continue
    seen.add(key)
    firsts.push(event)
  }
  // Grouped by tenant, stably: each tenant's events are contiguous, so its link row is one slice.
  const grouped = groupByTenant(firsts)
  const known = new Set<string>()
  for (let attempt = 1; ; attempt++) {
    const fresh = known.size === 0 ? grouped : grouped.filter((event) => !known.has(eventKey(event.tenant_id, event.id)))
    if (fresh.length === 0) return { inserted: 0, duplicates: events.length }
    const { tenants, counts, offsets } = tenantRuns(fresh)
    // Recomputed on a retry too: only a concurrent duplicate causes one.
    const packed = packedContentDigests(fresh)
    const claim = heads.claim(tenants)
    try {
      const expected = claim ? precomputeLinks(claim, counts, packed) : null
      const { rows } = await pool.query<ChainedResult>({
        name: INSERT_LINKED_NAME,
        text: INSERT_LINKED_SQL,
        values: [
          ...unnestParams(fresh),
          tenants,
          counts,
          offsets,
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
      if (!(isDuplicateId(error) || isDeadlock(error)) || attempt >= MAX_ATTEMPTS) throw error
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
function precomputeLinks(claim: ReadonlyArray<{ hash: string }>, counts: readonly number[], digests: Buffer): Buffer {
  const links = Buffer.allocUnsafe(digests.length)
  let from = 0
  counts.forEach((count, t) => {
    linkRun(hashBytes(claim[t]!.hash), digests, from, count, links)
    from += count
  })
  return links
}

/** The batch with each tenant's events together, tenants in order of first appearance, events in batch order. */
export function groupByTenant(events: readonly AuditEvent[]): AuditEvent[] {
  const groups = new Map<string, AuditEvent[]>()
  for (const event of events) {
    const group = groups.get(event.tenant_id)
    if (group) group.push(event)
    else groups.set(event.tenant_id, [event])
  }
  return groups.size === 1 ? [...events] : [...groups.values()].flat()
}

/** For events grouped by tenant: the tenants, how many events each has, and where each one's run starts (0-based). */
export function tenantRuns(grouped: readonly AuditEvent[]): { tenants: string[]; counts: number[]; offsets: number[] } {
  const tenants: string[] = []
  const counts: number[] = []
  const offsets: number[] = []
  grouped.forEach((event, i) => {
    if (tenants.at(-1) === event.tenant_id) counts[counts.length - 1]! += 1
    else {
      tenants.push(event.tenant_id)
      counts.push(1)
      offsets.push(i)
    }
  })
  return { tenants, counts, offsets }
}
