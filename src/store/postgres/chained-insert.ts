/**
 * The PostgreSQL insert with hash chaining: one transaction that locks the batch's tenant heads,
 * numbers and hashes the new events in Node, then inserts them and moves the heads in one
 * statement. A batch that fails for its content rolls back whole, so a head never advances past
 * an event that was not stored (isolating-insert's bisection relies on that).
 */
import type pg from 'pg'
import type { AuditEvent } from '../../event/types.js'
import { canonicalEvent, chainHashOf, GENESIS_HASH } from '../../integrity/canonical.js'
import type { InsertResult } from '../store.js'
import { EXISTING_IDS_SQL, INSERT_CHAINED_NAME, INSERT_CHAINED_SQL, LOCK_HEADS_SQL } from './chain-sql.js'
import { unnestParams } from './sql.js'

/**
 * A concurrent batch may store one of our ids between our plan and our insert (the conflict then
 * skips a row we had numbered). We roll back, learn which ids exist, and plan again; each retry
 * learns at least one id, so a few attempts always suffice in practice.
 */
const MAX_ATTEMPTS = 5

export async function insertChained(pool: pg.Pool, events: readonly AuditEvent[]): Promise<InsertResult> {
  // The first copy of an id within the batch wins, as with ON CONFLICT DO NOTHING.
  const unique = new Map<string, AuditEvent>()
  for (const event of events) if (!unique.has(event.id.toLowerCase())) unique.set(event.id.toLowerCase(), event)
  const known = new Set<string>()
  // Serialized before BEGIN: only the SHA-256 over prev hash + this text runs while heads are locked.
  const canonical = new Map([...unique.values()].map((event) => [event, canonicalEvent(event)]))
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    for (let attempt = 1; ; attempt++) {
      const fresh = [...unique.entries()].filter(([id]) => !known.has(id)).map(([, event]) => event)
      if (fresh.length === 0) return { inserted: 0, duplicates: events.length }
      await client.query('BEGIN')
      try {
        const stored = await insertOnce(client, fresh, canonical)
        if (stored === fresh.length) {
          await client.query('COMMIT')
          return { inserted: stored, duplicates: events.length - stored }
        }
        await client.query('ROLLBACK')
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
        throw error
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new Error(`chained insert: ids kept colliding with concurrent batches after ${MAX_ATTEMPTS} attempts`)
      }
      const existing = await client.query<{ id: string }>(EXISTING_IDS_SQL, [fresh.map((event) => event.id)])
      for (const row of existing.rows) known.add(row.id)
    }
  } finally {
    client.release(broken)
  }
}

async function insertOnce(client: pg.PoolClient, events: readonly AuditEvent[], canonical: ReadonlyMap<AuditEvent, string>): Promise<number> {
  const tenants = [...new Set(events.map((event) => event.tenant_id))]
  const locked = await client.query<{ tenant_id: string; seq: string; hash: string }>(LOCK_HEADS_SQL, [tenants, GENESIS_HASH])
  const heads = new Map(locked.rows.map((row) => [row.tenant_id, { seq: Number(row.seq), hash: row.hash }]))
  const seqs: number[] = []
  const prevHashes: string[] = []
  const hashes: string[] = []
  for (const event of events) {
    const head = heads.get(event.tenant_id)
    if (!head) throw new Error(`chained insert: no head locked for tenant ${JSON.stringify(event.tenant_id)}`)
    const hash = chainHashOf(head.hash, canonical.get(event)!)
    seqs.push(head.seq + 1)
    prevHashes.push(head.hash)
    hashes.push(hash)
    head.seq += 1
    head.hash = hash
  }
  const moved = [...heads.entries()]
  const result = await client.query({
    name: INSERT_CHAINED_NAME,
    text: INSERT_CHAINED_SQL,
    values: [
      ...unnestParams(events),
      seqs,
      prevHashes,
      hashes,
      moved.map(([tenant]) => tenant),
      moved.map(([, head]) => head.seq),
      moved.map(([, head]) => head.hash),
    ],
  })
  return result.rowCount ?? 0
}
