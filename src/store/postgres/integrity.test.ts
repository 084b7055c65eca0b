import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { describeIntegrityContract } from '../../../test/contracts/integrity.contract.js'
import { describeMerkleContract } from '../../../test/contracts/merkle.contract.js'
import { LINK_LAYOUT } from '../../../test/support/chain-tamper.js'
import { POSTGRES_URL, postgresAvailable, testPartitioning, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore } from './postgres-store.js'
import { verifyChains } from '../../integrity/verify.js'
import { storedEvent } from '../../../test/support/events.js'

const hasPostgres = await postgresAvailable()

async function withClient(schema: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

describe.skipIf(!hasPostgres)('postgres', () => {
  it('a retention run whose lock session died deletes nothing more, and the lock is free for the next run', async () => {
    const schema = uniqueSchema('lock')
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    const other = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    await store.migrate()
    try {
      const old = new Date(Date.now() - 100 * 86_400_000).toISOString()
      await store.insertBatch(Array.from({ length: 5 }, () => storedEvent({ tenant_id: 'acme', occurred_at: old })))
      const integrity = store.integrity
      const rule = { tenant_id: 'acme', maxSeq: 5, cutoff: new Date().toISOString(), keep_actions: [] }
      const outcome = await integrity.withRetentionLock(async () => {
        expect(await integrity.deleteChunk(rule, 0, 2)).toMatchObject({ deleted: 2, done: false })
        // The lock's session dies (a network cut, a restart, idle_session_timeout): the lock is gone.
        await withClient(schema, async (client) => {
          const { rowCount } = await client.query(
            `SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = (hashtext($2)::bigint & 4294967295)::oid AND objsubid = 2`,
            [0x61756472, schema],
          )
          expect(rowCount).toBe(1)
        })
        // Another process can now take the lock; this run must not delete beside it.
        expect(await other.integrity.withRetentionLock(async () => 'ran')).toEqual({ ran: true, value: 'ran' })
        await expect(integrity.deleteChunk(rule, 2, 2)).rejects.toThrow()
        return 'stopped'
      })
      expect(outcome).toEqual({ ran: true, value: 'stopped' })
      expect((await store.query({ tenant_id: 'acme' }, { limit: 10 })).events).toHaveLength(3)
      expect(await store.integrity.withRetentionLock(async () => 'next')).toEqual({ ran: true, value: 'next' })
    } finally {
      await other.close()
      await store.close()
      await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
    }
  })

  it('refuses TRUNCATE of the audit table, allows DELETE only inside the retention window, and never on link rows', async () => {
    const schema = uniqueSchema('integ')
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    await store.migrate()
    try {
      await withClient(schema, async (client) => {
        await expect(client.query('TRUNCATE audit_logs')).rejects.toThrow(/append-only; TRUNCATE refused/)
        await client.query('BEGIN')
        await client.query("SELECT set_config('auditq.retention', 'on', true)")
        await client.query('DELETE FROM audit_logs')
        await expect(client.query('UPDATE audit_logs SET action = action')).rejects.toThrow(/UPDATE refused/)
        await client.query('ROLLBACK')
        // The setting is transaction-local: outside it the guard is back.
        await expect(client.query('DELETE FROM audit_logs')).rejects.toThrow(/DELETE refused/)
        // Link rows have no retention window: retention deletes events and keeps their links.
        await client.query('BEGIN')
        await client.query("SELECT set_config('auditq.retention', 'on', true)")
        await expect(client.query('DELETE FROM audit_chain_links')).rejects.toThrow(/audit_chain_links is append-only; DELETE refused/)
        await client.query('ROLLBACK')
        await expect(client.query("UPDATE audit_chain_links SET prev_hash = 'x'")).rejects.toThrow(/UPDATE refused/)
        await expect(client.query('TRUNCATE audit_chain_links')).rejects.toThrow(/TRUNCATE refused/)
      })
    } finally {
      await store.close()
      await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
    }
  })

  it('verify reads link rows in windows of about streamChunkRows positions, whole or by range, in chain order', async () => {
    const schema = uniqueSchema('integ')
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema, streamChunkRows: 5 })
    await store.migrate()
    try {
      // Link rows of 3, 4, 2, 2 and 6 events: windows [3] [4] [2, 2] [6].
      for (const size of [3, 4, 2, 2, 6]) await store.insertBatch(Array.from({ length: size }, () => storedEvent({ tenant_id: 'acme' })))
      const seqs = (range = {}) =>
        store.integrity.snapshot(async (snapshot) => {
          const found: number[] = []
          for await (const row of snapshot.rows('acme', range)) found.push(row.seq)
          return found
        })
      expect(await seqs()).toEqual(Array.from({ length: 17 }, (_, i) => i + 1))
      expect(await seqs({ fromSeq: 5, toSeq: 10 })).toEqual([5, 6, 7, 8, 9, 10])
      expect(await verifyChains('postgres', store.integrity)).toMatchObject({ intact: true, events: 17 })
      expect(await verifyChains('postgres', store.integrity, { tenant_id: 'acme', fromSeq: 4, toSeq: 12 })).toMatchObject({ intact: true, events: 9 })
    } finally {
      await store.close()
      await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
    }
  })

  describeIntegrityContract('postgres', async () => {
    const schema = uniqueSchema('integ')
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    await store.migrate()
    return {
      store,
      // The owner/superuser path an attacker with database access would take: replica mode skips
      // ordinary triggers, so the append-only guard does not fire.
      tamper: (statements) =>
        withClient(schema, async (client) => {
          await client.query('SET session_replication_role = replica')
          for (const statement of statements) await client.query(statement)
        }),
      plain: (statement) => withClient(schema, async (client) => void (await client.query(statement))),
      chain: LINK_LAYOUT,
      dispose: async () => {
        await store.close()
        await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
      },
    }
  })

  describeMerkleContract('postgres', async () => {
    const schema = uniqueSchema('merkle')
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    await store.migrate()
    return {
      store,
      dispose: async () => {
        await store.close()
        await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
      },
    }
  })
})
