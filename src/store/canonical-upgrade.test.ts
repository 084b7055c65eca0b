/**
 * Upgrading to canonical form auditq.v2 (migration 30), in both stores: rows a store stored before
 * the migration (hashed under auditq.v1, columns of that time) keep verifying after it, new rows
 * carry the added fields and are hashed under auditq.v2, and one chain runs across the two; a
 * proof bundle over both kinds names each row's form and verifies offline.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { storedEvent } from '../../test/support/events.js'
import { migrateAllBut } from '../../test/support/migrate-partial.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../test/support/services.js'
import { EVENT_FIELDS_V1, type AuditEvent } from '../event/types.js'
import { CANONICAL_SERIALIZERS, chainHash, contentDigest, GENESIS_HASH } from '../integrity/canonical.js'
import { generateSigningKeyPem, parseSigningKey } from '../integrity/checkpoint.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import { bundleLines } from '../integrity/proofs.js'
import { verifyBundle } from '../../tools/verify-bundle.mjs'
import { verifyChains } from '../integrity/verify.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded/embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from './embedded/migrations.js'
import { toRow } from './embedded/sql.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './postgres/migrations.js'
import { createPostgresStore } from './postgres/postgres-store.js'
import { COLUMN_TYPES, unnestParams } from './postgres/sql.js'
import type { Store } from './store.js'

const hasPostgres = await postgresAvailable()
/**
 * A store deployed before migration 30: 31 and 46 index 30's columns and 92 reads them, so they
 * cannot be there either; nor 81, which replaces the chain function this test's old insert calls
 * (and then fills its link rows).
 */
const SKIPPED = [30, 31, 46, 81, 92]

/** Events as a version before auditq.v2 would have stored them: none of the added fields. */
function oldEvents(tenant: string, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => storedEvent({ tenant_id: tenant, description: `old ${i}`, metadata: { i, nested: { b: 1, a: 2 } } }))
}

function newEvents(tenant: string, n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) =>
    storedEvent({
      tenant_id: tenant,
      description: `new ${i}`,
      actor_name: `Ada ${i}`,
      targets: [{ type: 'doc', id: `d${i}`, name: 'Plan' }],
      changes: { title: { before: 'a', after: `b${i}` } },
      producer_id: 'sdk-1',
      producer_seq: i + 1,
    }),
  )
}

async function expectUpgradedChain(store: Store, tenants: string[], oldPerTenant: number): Promise<void> {
  expect((await store.migrate()).applied).toEqual(['30_event_fields_v2', '31_producer_sequence_index', '46_subject_index_lookup', '81_link_rows_occurred_at', '92_producer_runs'])
  for (const tenant of tenants) {
    const fresh = newEvents(tenant, 4)
    expect(await store.insertBatch(fresh)).toEqual({ inserted: 4, duplicates: 0 })
    const stored = await store.getById(fresh[0]!.id, { tenant_id: tenant })
    expect(stored).toEqual(fresh[0])
    const rows = await store.integrity!.snapshot(async (snapshot) => {
      const all = []
      for await (const row of snapshot.rows(tenant)) all.push(row)
      return all
    })
    // The old rows keep version 1 (the column's default), the new ones record 2; one gap-free chain.
    expect(rows.map((row) => row.canonical_version)).toEqual([...Array<number>(oldPerTenant).fill(1), 2, 2, 2, 2])
    expect(rows.map((row) => row.seq)).toEqual(rows.map((_, i) => i + 1))
    // Old rows read back with the added fields present and null.
    expect(rows[0]!.event).toMatchObject({ actor_name: null, targets: null, changes: null, producer_id: null, producer_seq: null, sealed: null, subject_index: null })
  }
  expect(await verifyChains(store.kind, store.integrity!)).toMatchObject({ intact: true, events: tenants.length * (oldPerTenant + 4) })
  await expectMixedBundleVerifies(store, tenants, oldPerTenant)
}

const signing = generateSigningKeyPem()

/** A bundle of every event, old and new: each line names the form its row records, and it verifies. */
async function expectMixedBundleVerifies(store: Store, tenants: string[], oldPerTenant: number): Promise<void> {
  await createCheckpoints(store.integrity!, parseSigningKey(signing.privateKeyPem))
  let text = ''
  for await (const line of bundleLines(store.integrity, store.stream({}), { filter: {} })) text += line
  const events = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; canonical?: string; event?: AuditEvent }).filter((r) => r.type === 'event')
  const perTenant = [...Array<string>(oldPerTenant).fill('auditq.v1'), ...Array<string>(4).fill('auditq.v2')]
  expect(events.map((r) => r.canonical)).toEqual(tenants.flatMap(() => perTenant))
  const total = tenants.length * (oldPerTenant + 4)
  expect(verifyBundle(text, [signing.publicKeyPem])).toMatchObject({ ok: true, events: total })
  expect(verifyBundle(text, [signing.publicKeyPem], { canonicalForms: CANONICAL_SERIALIZERS })).toMatchObject({ ok: true, events: total })
}

describe('embedded: rows stored before migration 30 verify under auditq.v1 beside new auditq.v2 rows', () => {
  const dirs: string[] = []
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))))

  it('verifies one chain across the upgrade', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-v2-upgrade-'))
    dirs.push(dataDir)
    const file = path.join(dataDir, EMBEDDED_DB_FILE)
    await migrateAllBut(embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 })), EMBEDDED_MIGRATIONS, SKIPPED)
    // The insert of a store at migration 20: the columns of the time, chain format 2 over auditq.v1.
    const columns = EVENT_FIELDS_V1.join(', ')
    const db = openEmbeddedConnection(file, { timeoutMs: 5_000 })
    try {
      const insert = db.prepare(`INSERT INTO audit_logs (${columns}, seq, prev_hash, hash) VALUES (${EVENT_FIELDS_V1.map((f) => `@${f}`).join(', ')}, @seq, @prev_hash, @hash)`)
      const head = db.prepare('INSERT INTO audit_chain_heads (tenant_id, seq, hash) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash')
      for (const tenant of ['acme', 'globex']) {
        let prev = GENESIS_HASH
        oldEvents(tenant, 3).forEach((event, i) => {
          const hash = chainHash(prev, event, 1)
          const row = toRow(event) as unknown as Record<string, unknown>
          insert.run({ ...Object.fromEntries(EVENT_FIELDS_V1.map((f) => [f, row[f]])), seq: i + 1, prev_hash: prev, hash })
          prev = hash
        })
        head.run(tenant, 3, prev)
      }
    } finally {
      db.close()
    }
    const store = await createEmbeddedStore({ dataDir })
    try {
      await expectUpgradedChain(store, ['acme', 'globex'], 3)
    } finally {
      await store.close()
    }
  })
})

describe.skipIf(!hasPostgres)('postgres: rows stored before migration 30 verify under auditq.v1 beside new auditq.v2 rows', () => {
  const schema = uniqueSchema('v2up')
  afterAll(() => dropSchemas([schema]))

  it('verifies one chain across the upgrade', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 })
    try {
      await migrateAllBut(postgresMigrationTarget(pool, { schema, lockTimeoutMs: 10_000 }), POSTGRES_MIGRATIONS, SKIPPED)
      // The chained insert of a store at migration 20: the columns of the time, then the link
      // function over auditq.v1 content digests (the digests are the only thing that changed).
      const unnest = EVENT_FIELDS_V1.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')
      for (const tenant of ['acme', 'globex']) {
        const events = oldEvents(tenant, 3)
        const params = unnestParams(events).slice(0, EVENT_FIELDS_V1.length)
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          await client.query(`INSERT INTO audit_logs (${EVENT_FIELDS_V1.join(', ')}) SELECT * FROM unnest(${unnest})`, params)
          await client.query('SELECT * FROM auditq_chain_v3($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)', [
            events.length,
            [tenant],
            [events.length],
            [0],
            events.map((e) => e.id),
            Buffer.concat(events.map((e) => contentDigest(e, 1))),
            GENESIS_HASH,
          ])
          await client.query('COMMIT')
        } finally {
          client.release()
        }
      }
      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
      try {
        await expectUpgradedChain(store, ['acme', 'globex'], 3)
      } finally {
        await store.close()
      }
    } finally {
      await pool.end()
    }
  })
})
