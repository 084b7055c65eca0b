/**
 * The event id -> seq index that proofs by id need on PostgreSQL is written when a proof first
 * needs it, not at checkpoint time: signing a checkpoint while ingest runs writes only tiles, and
 * the first proof (or export with proof) indexes what the tree covers, in chunks, once.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { migrateAllBut } from '../../../test/support/migrate-partial.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { verifyInclusion } from '../../../tools/verify-bundle.mjs'
import type { AuditEvent } from '../../event/types.js'
import { chainLeaf } from '../../integrity/merkle.js'
import { generateSigningKeyPem, parseSigningKey } from '../../integrity/checkpoint.js'
import { createCheckpoints } from '../../integrity/make-checkpoints.js'
import { eventProof, type EventProof } from '../../integrity/proofs.js'
import { PostgresMerkle } from './merkle.js'
import { INDEX_POSITIONS_SQL, POSITIONS_SQL } from './merkle-sql.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { createPostgresStore, type PostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()
const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)

async function insertUneven(store: PostgresStore, tenant: string, count: number): Promise<AuditEvent[]> {
  const events = Array.from({ length: count }, () => storedEvent({ tenant_id: tenant }))
  // Link rows of uneven sizes, so chunk bounds fall inside them.
  for (let i = 0, size = 13; i < events.length; i += size, size = 7 + (i % 23)) await store.insertBatch(events.slice(i, i + size))
  return events
}

const proves = (proof: EventProof) =>
  verifyInclusion(proof.leaf_index, proof.tree_size, chainLeaf(proof.hash), proof.proof.map((h) => Buffer.from(h, 'hex')), Buffer.from(proof.checkpoint.tree!.root, 'hex'))

describe.runIf(hasPostgres)('postgres Merkle positions, indexed on demand', () => {
  const schema = uniqueSchema('mkpos')
  const oldSchema = uniqueSchema('mkpos90')
  let store: PostgresStore
  let client: pg.Client
  beforeAll(async () => {
    store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
    await store?.close()
    await dropSchemas([schema, oldSchema])
  })

  const coverage = async (tenant: string) => {
    const { rows } = await client.query<{ size: string; positions_size: string; indexed: string }>(
      'SELECT size, positions_size, (SELECT count(*) FROM audit_merkle_positions WHERE tenant_id = $1) AS indexed FROM audit_merkle_trees WHERE tenant_id = $1',
      [tenant],
    )
    return { size: Number(rows[0]!.size), positions: Number(rows[0]!.positions_size), indexed: Number(rows[0]!.indexed) }
  }

  it('a checkpoint writes no positions; the first proof indexes the tree once, a later one only what the tree grew by', async () => {
    const events = await insertUneven(store, 'acme', 300)
    await createCheckpoints(store.integrity!, key)
    expect(await coverage('acme')).toEqual({ size: 300, positions: 0, indexed: 0 })

    const proof = await eventProof(store.integrity, events[150]!)
    expect(proof.seq).toBe(151)
    expect(proves(proof)).toBe(true)
    expect(await coverage('acme')).toEqual({ size: 300, positions: 300, indexed: 300 })

    const more = await insertUneven(store, 'acme', 120)
    await createCheckpoints(store.integrity!, key)
    // An event already indexed: found without indexing the growth.
    expect((await eventProof(store.integrity, events[0]!)).tree_size).toBe(420)
    expect(await coverage('acme')).toEqual({ size: 420, positions: 300, indexed: 300 })
    const latest = await eventProof(store.integrity, more[119]!)
    expect(latest.seq).toBe(420)
    expect(proves(latest)).toBe(true)
    expect(await coverage('acme')).toEqual({ size: 420, positions: 420, indexed: 420 })

    // Beyond the tree: still not provable, and nothing is indexed past the tree.
    const [newer] = await insertUneven(store, 'acme', 1)
    await expect(eventProof(store.integrity, newer!)).rejects.toMatchObject({ code: 'AUDITQ_NOT_PROVABLE' })
    expect(await coverage('acme')).toEqual({ size: 420, positions: 420, indexed: 420 })
  })

  it('indexing in ranges that cut through link rows, overlapping and repeated, writes every position once with its seq', async () => {
    const events = await insertUneven(store, 'globex', 200)
    await createCheckpoints(store.integrity!, key)
    for (const [from, to] of [[0, 7], [7, 50], [40, 51], [51, 51], [51, 200], [0, 200]] as const) {
      await client.query(INDEX_POSITIONS_SQL, ['globex', from, to])
    }
    const { rows } = await client.query<{ id: string; seq: string }>('SELECT id::text, seq FROM audit_merkle_positions WHERE tenant_id = $1 ORDER BY seq', ['globex'])
    expect(rows.map((row) => [row.id, Number(row.seq)])).toEqual(events.map((event, i) => [event.id, i + 1]))
    expect((await coverage('globex')).positions).toBe(200)
  })

  it('proofs asked for at once while nothing is indexed all succeed, the index written once', async () => {
    const events = await insertUneven(store, 'initech', 250)
    await createCheckpoints(store.integrity!, key)
    const proofs = await Promise.all([0, 60, 120, 180, 249].map((i) => eventProof(store.integrity, events[i]!)))
    expect(proofs.map((proof) => proof.seq)).toEqual([1, 61, 121, 181, 250])
    expect(proofs.every(proves)).toBe(true)
    expect(await coverage('initech')).toEqual({ size: 250, positions: 250, indexed: 250 })
  })

  it('a proof that missed its position while another process indexed the tree finds it once indexed', async () => {
    const events = await insertUneven(store, 'umbrella', 120)
    await createCheckpoints(store.integrity!, key)
    const target = events[70]!
    // Two processes' views of the positions index, each on a pool of its own. Ours misses the id on
    // its first read; the other process then indexes the whole tree and commits before ours looks
    // at how far the index reaches, so ours finds nothing left to index.
    const options = { connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 }
    const ourPool = new pg.Pool(options)
    const otherPool = new pg.Pool(options)
    try {
      const other = new PostgresMerkle(otherPool)
      let interleave: (() => Promise<unknown>) | undefined = () => other.positions('umbrella', [events[0]!.id])
      const pool = new Proxy(ourPool, {
        get(real, prop) {
          if (prop !== 'query') return Reflect.get(real, prop, real) as unknown
          return async (text: string, values?: unknown[]) => {
            const result = await real.query(text, values)
            const run = text === POSITIONS_SQL ? interleave : undefined
            interleave = undefined
            if (run) await run()
            return result
          }
        },
      })
      const ours = new PostgresMerkle(pool)
      const found = await ours.positions('umbrella', [target.id])
      expect(interleave).toBeUndefined()
      expect(found.get(target.id)?.seq).toBe(71)
    } finally {
      await ourPool.end()
      await otherPool.end()
    }
  })

  it('migration 91 counts the positions a database indexed at checkpoint time as indexed', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${oldSchema}`, max: 2 })
    try {
      const target = postgresMigrationTarget(pool, { schema: oldSchema, lockTimeoutMs: 10_000 })
      await migrateAllBut(target, POSTGRES_MIGRATIONS, [91])
      await pool.query("INSERT INTO audit_merkle_trees (tenant_id, size) VALUES ('acme', 1234)")
      await target.withLock(() => target.apply(91, 'merkle_positions_on_demand', POSTGRES_MIGRATIONS[91]!))
      const { rows } = await pool.query<{ positions_size: string }>("SELECT positions_size FROM audit_merkle_trees WHERE tenant_id = 'acme'")
      expect(Number(rows[0]!.positions_size)).toBe(1234)
    } finally {
      await pool.end()
    }
  })
})
