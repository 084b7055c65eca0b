/**
 * Migrations 4 and 6 on a schema that has every other step applied and rows in it, written the way
 * a store before them wrote them (conflict on id alone, chain format 1): nothing lost, the old chain
 * still verifies and new events continue it in format 2, the append-only guard still refuses, and
 * ids are unique per tenant afterwards.
 */
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { canonicalEvent, GENESIS_HASH } from '../../integrity/canonical.js'
import { verifyChains } from '../../integrity/verify.js'
import { migrateAllBut, PG_FORMAT_1_INSERT_CHAINED_SQL, preUpgradeEvents, withPreFixConflictTarget } from '../../../test/support/migrate-partial.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { createPostgresStore } from './postgres-store.js'
import { INSERT_UNNEST_SQL, insertParams, unnestParams } from './sql.js'

const hasPostgres = await postgresAvailable()

describe.skipIf(!hasPostgres)('postgres migration 4 (ids unique per tenant)', () => {
  const schema = uniqueSchema('pgv4')
  afterAll(() => dropSchemas([schema]))

  const indexesAndTriggers = async (pool: pg.Pool) =>
    (
      await pool.query<{ name: string; def: string }>(
        `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit_logs'
         UNION ALL SELECT tgname, 'trigger' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'audit_logs' AND NOT t.tgisinternal
         ORDER BY 1`,
        [schema],
      )
    ).rows.map((row) => `${row.name}: ${row.def.replace(`"${schema}".`, '').replace(`${schema}.`, '')}`)

  it('keeps every row and the chain, still refuses UPDATE, and stores an id another tenant holds', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 })
    try {
      await migrateAllBut(postgresMigrationTarget(pool, { schema, lockTimeoutMs: 10_000 }), POSTGRES_MIGRATIONS, [4, 6, 7, 35, 81])
      const events = preUpgradeEvents()
      const unchained = storedEvent({ tenant_id: 'acme', action: 'before.chaining' })
      // As the store wrote them before the fix: conflict on id alone, chained in the server.
      await pool.query(withPreFixConflictTarget(INSERT_UNNEST_SQL), insertParams([unchained]))
      await pool.query(withPreFixConflictTarget(PG_FORMAT_1_INSERT_CHAINED_SQL), [
        ...unnestParams(events),
        events.map((event) => canonicalEvent(event, 1)),
        GENESIS_HASH,
      ])
      const before = await indexesAndTriggers(pool)
      expect(before.some((line) => line.startsWith('audit_logs_pkey: CREATE UNIQUE INDEX audit_logs_pkey ON audit_logs USING btree (id)'))).toBe(true)

      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
      try {
        expect((await store.migrate()).applied).toEqual(['4_tenant_scoped_ids', '6_chain_format_2', '7_chain_links', '35_feed_order', '81_link_rows_occurred_at'])
        for (const tenant of ['acme', 'globex', 'initech']) {
          const expected = [...events.filter((e) => e.tenant_id === tenant), ...(tenant === 'acme' ? [unchained] : [])]
          const stored = (await store.query({ tenant_id: tenant }, { limit: 100 })).events
          expect(new Map(stored.map((e) => [e.id, e]))).toEqual(new Map(expected.map((e) => [e.id, e])))
        }
        const report = await verifyChains(store.kind, store.integrity!)
        // The chained rows all verify; the row from before chaining was copied too, and verify names it
        // (no event may sit outside the chain unseen).
        expect(report).toMatchObject({ intact: false, first_break: { tenant_id: 'acme', problem: 'inserted', detail: expect.stringContaining('no chain position') } })
        for (const tenant of ['globex', 'initech']) {
          const own = await verifyChains(store.kind, store.integrity!, { tenant_id: tenant })
          expect(own, tenant).toMatchObject({ intact: true, events: events.filter((e) => e.tenant_id === tenant).length })
        }

        // The key is the pair now; every other index and the guard trigger are untouched.
        const after = await indexesAndTriggers(pool)
        expect(after).toContain('audit_logs_pkey: CREATE UNIQUE INDEX audit_logs_pkey ON audit_logs USING btree (tenant_id, id)')
        expect(after).toContain('audit_logs_id_idx: CREATE INDEX audit_logs_id_idx ON audit_logs USING btree (id)')
        expect(after.filter((line) => !/^audit_logs_(pkey|id_idx):/.test(line))).toEqual(
          before.filter((line) => !line.startsWith('audit_logs_pkey:')),
        )
        await expect(pool.query("UPDATE audit_logs SET action = 'forged'")).rejects.toThrow(/append-only; UPDATE refused/)
        await expect(pool.query('DELETE FROM audit_logs')).rejects.toThrow(/DELETE refused/)

        const reused = storedEvent({ id: events[0]!.id, tenant_id: 'globex' })
        expect(events[0]!.tenant_id).toBe('acme')
        expect(await store.insertBatch([reused, events[0]!])).toEqual({ inserted: 1, duplicates: 1 })
        expect(await store.getById(reused.id, { tenant_id: 'globex' })).toEqual(reused)
        expect((await verifyChains(store.kind, store.integrity!, { tenant_id: 'globex' })).intact).toBe(true)
      } finally {
        await store.close()
      }
    } finally {
      await pool.end()
    }
  })
})
