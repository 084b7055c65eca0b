/**
 * Migration 81 on a schema whose link rows were written by auditq_chain_v3, without occurred_at:
 * it fills each link row's `occurred` from its events (NULL where the event was already deleted),
 * keeps the link rows append-only afterwards, and new inserts carry the column themselves.
 */
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { migrateAllBut } from '../../../test/support/migrate-partial.js'
import { storedEvent } from '../../../test/support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { EVENT_FIELDS } from '../../event/types.js'
import { contentDigest, GENESIS_HASH } from '../../integrity/canonical.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { createPostgresStore } from './postgres-store.js'
import { COLUMN_TYPES, unnestParams } from './sql.js'

const hasPostgres = await postgresAvailable()
const DAY = 86_400_000

describe.skipIf(!hasPostgres)('postgres migration 81 (occurred_at in the link rows)', () => {
  const schema = uniqueSchema('pg81')
  afterAll(() => dropSchemas([schema]))

  it('fills occurred for existing link rows, NULL for an event already gone, and keeps the rows append-only', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}`, max: 2 })
    try {
      await migrateAllBut(postgresMigrationTarget(pool, { schema, lockTimeoutMs: 10_000 }), POSTGRES_MIGRATIONS, [81])
      const events = Array.from({ length: 4 }, (_, i) => storedEvent({ tenant_id: 'acme', occurred_at: new Date(Date.parse('2026-06-01T12:00:00.123Z') + i * DAY).toISOString() }))
      const unnest = EVENT_FIELDS.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')
      const client = await pool.connect()
      try {
        // The chained insert as the store ran it before migration 81.
        await client.query('BEGIN')
        await client.query(`INSERT INTO audit_logs (${EVENT_FIELDS.join(', ')}) SELECT * FROM unnest(${unnest})`, unnestParams(events))
        await client.query('SELECT * FROM auditq_chain_v3($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)', [
          events.length,
          ['acme'],
          [events.length],
          [0],
          events.map((e) => e.id),
          Buffer.concat(events.map((e) => contentDigest(e, 2))),
          GENESIS_HASH,
        ])
        await client.query('COMMIT')
        // Retention (the only delete the guard lets through) removed the second one.
        await client.query('BEGIN')
        await client.query("SELECT set_config('auditq.retention', 'on', true)")
        await client.query('DELETE FROM audit_logs WHERE id = $1', [events[1]!.id])
        await client.query('COMMIT')
      } finally {
        client.release()
      }

      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
      try {
        expect((await store.migrate()).applied).toEqual(['81_link_rows_occurred_at'])
        await store.insertBatch([storedEvent({ tenant_id: 'acme', occurred_at: '2026-07-01T00:00:00.000Z' })])
        const { rows } = await pool.query<{ start_seq: string; occurred: (Date | null)[] }>('SELECT start_seq, occurred FROM audit_chain_links ORDER BY start_seq')
        expect(rows.map((row) => [Number(row.start_seq), row.occurred.map((at) => at?.toISOString() ?? null)])).toEqual([
          [1, [events[0]!.occurred_at, null, events[2]!.occurred_at, events[3]!.occurred_at]],
          [5, ['2026-07-01T00:00:00.000Z']],
        ])
        await expect(pool.query('UPDATE audit_chain_links SET occurred = occurred')).rejects.toThrow(/UPDATE refused/)
        const v3 = await pool.query('SELECT 1 FROM pg_proc WHERE proname = $1 AND pronamespace = $2::regnamespace', ['auditq_chain_v3', schema])
        expect(v3.rowCount).toBe(0)
      } finally {
        await store.close()
      }
    } finally {
      await pool.end()
    }
  })
})
