/**
 * Migration 7 on a schema whose chains live in the event rows, as the store wrote them at migration
 * 6 (format 2, seq and hashes in audit_logs): the old rows still verify, new events continue each
 * chain in link rows, retention deletes across both layouts in order, and a tampered old row is
 * still named by its seq.
 */
import pg from 'pg'
import { drainFeed } from '../../../test/contracts/feed.contract.js'
import { afterAll, describe, expect, it } from 'vitest'
import { chainHash, GENESIS_HASH } from '../../integrity/canonical.js'
import { generateSigningKeyPem, parseSigningKey } from '../../integrity/checkpoint.js'
import { verifyChains } from '../../integrity/verify.js'
import { RETENTION_ACTION, runCleanup } from '../../retention/cleanup.js'
import { EVENT_FIELDS, type AuditEvent } from '../../event/types.js'
import { migrateAllBut } from '../../../test/support/migrate-partial.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { createPostgresStore } from './postgres-store.js'
import { COLUMN_TYPES, unnestParams } from './sql.js'

const hasPostgres = await postgresAvailable()
const DAY = 86_400_000
const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)

/** The INSERT the store ran at migration 6, reduced to its effect: rows with their chain columns. */
const INSERT_WITH_CHAIN_SQL = `INSERT INTO audit_logs (${EVENT_FIELDS.join(', ')}, seq, prev_hash, hash)
  SELECT * FROM unnest(${EVENT_FIELDS.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')},
    $${EVENT_FIELDS.length + 1}::bigint[], $${EVENT_FIELDS.length + 2}::text[], $${EVENT_FIELDS.length + 3}::text[])`

async function writeLayout1(pool: pg.Pool, events: AuditEvent[]): Promise<void> {
  const heads = new Map<string, { seq: number; hash: string }>()
  const chain = events.map((event) => {
    const head = heads.get(event.tenant_id) ?? { seq: 0, hash: GENESIS_HASH }
    // Hashed as the store at migration 6 did: auditq.v1, which the column's default records.
    const next = { seq: head.seq + 1, hash: chainHash(head.hash, event, 1) }
    heads.set(event.tenant_id, next)
    return { seq: next.seq, prev_hash: head.hash, hash: next.hash }
  })
  await pool.query(INSERT_WITH_CHAIN_SQL, [...unnestParams(events), chain.map((c) => c.seq), chain.map((c) => c.prev_hash), chain.map((c) => c.hash)])
  for (const [tenant, head] of heads) await pool.query('INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES ($1, $2, $3)', [tenant, head.seq, head.hash])
}

describe.skipIf(!hasPostgres)('postgres migration 7 (chain links beside the events)', () => {
  const schema = uniqueSchema('pgv7')
  afterAll(() => dropSchemas([schema]))

  it('continues in-row chains in link rows: both verify, retention crosses them, tampering is named', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 })
    const old = new Date(Date.now() - 100 * DAY).toISOString()
    try {
      // 35 (the feed's key on link rows) and 81 (their occurred_at) build on 7: a database from before 7 has none of them.
      await migrateAllBut(postgresMigrationTarget(pool, { schema, lockTimeoutMs: 10_000 }), POSTGRES_MIGRATIONS, [7, 35, 81])
      // acme seq 1..6 in the rows, the first four old; globex seq 1..2.
      const inRows = [
        ...Array.from({ length: 6 }, (_, i) => storedEvent({ tenant_id: 'acme', description: `row ${i + 1}`, ...(i < 4 ? { occurred_at: old } : {}) })),
        ...Array.from({ length: 2 }, () => storedEvent({ tenant_id: 'globex' })),
      ]
      await writeLayout1(pool, inRows)

      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
      try {
        expect((await store.migrate()).applied).toEqual(['7_chain_links', '35_feed_order', '81_link_rows_occurred_at'])
        // acme seq 7 (old) and 8 in a link row; globex seq 3.
        await store.insertBatch([
          storedEvent({ tenant_id: 'acme', description: 'link 7', occurred_at: old }),
          storedEvent({ tenant_id: 'globex' }),
          storedEvent({ tenant_id: 'acme', description: 'link 8' }),
        ])
        const links = await pool.query<{ tenant_id: string; start_seq: string; n: number }>(
          'SELECT tenant_id, start_seq, cardinality(ids) AS n FROM audit_chain_links ORDER BY tenant_id',
        )
        expect(links.rows).toEqual([
          { tenant_id: 'acme', start_seq: '7', n: 2 },
          { tenant_id: 'globex', start_seq: '3', n: 1 },
        ])
        expect(await verifyChains(store.kind, store.integrity)).toMatchObject({ intact: true, events: 11 })
        // The feed reads both layouts as one chain: in-row seqs first, then the link rows.
        const acmeFeed = await drainFeed(store.feed, 'acme', 3)
        expect(acmeFeed.events.map((e) => [e.seq, e.event.description])).toEqual([
          ...Array.from({ length: 6 }, (_, i) => [i + 1, `row ${i + 1}`]),
          [7, 'link 7'],
          [8, 'link 8'],
        ])
        const allFeed = await drainFeed(store.feed, undefined, 4, { expect: 11 })
        expect(allFeed.events.map((e) => `${e.event.tenant_id}:${e.seq}`)).toEqual([
          ...Array.from({ length: 6 }, (_, i) => `acme:${i + 1}`),
          'globex:1',
          'globex:2',
          'acme:7',
          'acme:8',
          'globex:3',
        ])

        // Retention in chunks of 2 deletes the old events of both layouts, in seq order.
        const report = await runCleanup(store, { cutoff: new Date(Date.now() - 90 * DAY), keepActions: [], chunkRows: 2, defaultTenant: 'default', dryRun: false, signingKey: key })
        expect(report.status === 'done' && report.total).toBe(5)
        const acme = await store.integrity.snapshot(async (snapshot) => {
          const rows = []
          for await (const row of snapshot.rows('acme')) rows.push([row.seq, row.event.action === RETENTION_ACTION ? 'cleanup' : row.event.description])
          return rows
        })
        expect(acme).toEqual([[5, 'row 5'], [6, 'row 6'], [8, 'link 8'], [9, 'cleanup']])
        const signed = { checkpoints: { external: report.status === 'done' ? report.checkpoints : [], publicKeys: [key.publicKey] } }
        expect(await verifyChains(store.kind, store.integrity, signed)).toMatchObject({ intact: true, events: 7 })

        const tamper = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
        await tamper.connect()
        try {
          await tamper.query('SET session_replication_role = replica')
          await tamper.query("UPDATE audit_logs SET description = 'rewritten' WHERE tenant_id = 'acme' AND seq = 6")
        } finally {
          await tamper.end()
        }
        expect((await verifyChains(store.kind, store.integrity)).first_break).toMatchObject({ tenant_id: 'acme', seq: 6, problem: 'modified' })
      } finally {
        await store.close()
      }
    } finally {
      await pool.end()
    }
  })
})
