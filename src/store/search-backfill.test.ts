/**
 * The search backfill, in both stores: a store upgraded to migration 88 holding events stored
 * before word search existed (PostgreSQL: `search` NULL; embedded: no FTS5 entry) gives them their
 * document in bounded, resumable batches; search then finds them exactly as if they had been
 * inserted with it; the chain still verifies; and (PostgreSQL) the append-only guard lets nothing
 * through but filling a missing document.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { isoAt, storedEvent } from '../../test/support/events.js'
import { migrateAllBut } from '../../test/support/migrate-partial.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../test/support/services.js'
import type { AuditEvent } from '../event/types.js'
import { verifyChains } from '../integrity/verify.js'
import { runSearchBackfill } from '../query/search/backfill.js'
import { searchTokens } from '../query/search/document.js'
import { parseSearch, toTsvector } from '../query/search/syntax.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded/embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from './embedded/migrations.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './postgres/migrations.js'
import { createPostgresStore } from './postgres/postgres-store.js'
import type { Store } from './store.js'

const hasPostgres = await postgresAvailable()
const BEFORE_BACKFILL = [87, 88]

/** 40 events over two tenants; every event carries its own word in metadata, and a shared one. */
function events(): AuditEvent[] {
  return Array.from({ length: 40 }, (_, i) =>
    storedEvent({
      tenant_id: i % 2 === 0 ? 'acme' : 'globex',
      occurred_at: isoAt(i),
      action: i % 3 === 0 ? 'invoice.paid' : 'user.login',
      description: i % 4 === 0 ? 'Paid late by Ünïcödé Corp' : null,
      actor_name: `Ada ${i}`,
      targets: [{ type: 'team', id: `t${i}`, name: 'Blue Whales' }],
      metadata: { note: `marker${i} shared`, nested: { deep: ['zebra', i] } },
    }),
  )
}

/** What the search finds, as metadata markers, over every tenant. */
async function found(store: Store, q: string): Promise<string[]> {
  const page = await store.query({ search: parseSearch(q) }, { limit: 1_000 })
  return page.events.map((e) => String((e.metadata as { note: string }).note).split(' ')[0]!).sort()
}

interface Fixture {
  store: Store
  /** Removes the search documents of the events at these indexes, as a store from before search had them. */
  dropDocuments(ids: readonly string[]): Promise<void>
  /** Each event's stored document as its token list, by id. */
  documents(): Promise<Map<string, string[]>>
  /** Another store on the same data, as a second process (the CLI beside `serve`) opens it; the caller closes it. */
  another(): Promise<Store>
  dispose(): Promise<void>
}

/**
 * Runs the upgrade the way an operator meets it: events stored while migrations 87–88 did not
 * exist, some of them without a search document, then the store migrates to 88.
 */
function backfillContract(kind: string, open: () => Promise<Fixture>): void {
  describe(`${kind}: search backfill`, () => {
    it('fills every missing document in bounded, resumable batches; search finds the old events as if inserted with it; the chain verifies', async () => {
      const fixture = await open()
      const { store } = fixture
      try {
        const all = events()
        expect(await store.insertBatch(all)).toEqual({ inserted: 40, duplicates: 0 })
        const expected = await fixture.documents()
        // Every other event predates search (the even ones), newest and oldest among them.
        const old = all.filter((_, i) => i % 2 === 0)
        await fixture.dropDocuments(old.map((e) => e.id))
        expect(await store.migrate()).toMatchObject({ applied: ['87_search_fill_only_guard', '88_search_backfill_position'] })

        const source = store.searchBackfill!
        expect(await source.countUnindexed()).toBe(20)
        // The gap, before: a word only old events hold is not found, one every event holds finds half.
        expect(await found(store, 'marker0')).toEqual([])
        expect(await found(store, 'shared')).toHaveLength(20)

        // Stopped after two batches of 7 (as a Ctrl-C or a service stop would): 14 filled, 6 left.
        const abort = new AbortController()
        const first = await runSearchBackfill(source, { batchRows: 7, pauseMs: 0, signal: abort.signal, onBatch: (p) => p.batches === 2 && abort.abort() })
        expect(first).toMatchObject({ filled: 14, batches: 2, remaining: 6, stopped: true })
        expect(await source.countUnindexed()).toBe(6)
        // Newest first: the youngest old events are searchable already, the oldest not yet.
        expect(await found(store, 'marker38')).toEqual(['marker38'])
        expect(await found(store, 'marker0')).toEqual([])

        // Run again: it goes on where it stopped and finishes.
        const second = await runSearchBackfill(source, { batchRows: 7, pauseMs: 0 })
        expect(second).toMatchObject({ filled: 6, remaining: 0, stopped: false })
        expect(await source.countUnindexed()).toBe(0)
        // A third run has nothing to do and touches nothing.
        expect(await runSearchBackfill(source, { batchRows: 7, pauseMs: 0 })).toMatchObject({ filled: 0, batches: 0, remaining: 0 })

        // The same documents an insert writes, for every event (words in metadata, targets, names, phrases).
        expect(await fixture.documents()).toEqual(expected)
        expect(await found(store, 'marker0')).toEqual(['marker0'])
        expect(await found(store, 'shared')).toHaveLength(40)
        expect(await found(store, '"blue whales" zebra -login')).toEqual(all.filter((_, i) => i % 3 === 0).map((_, j) => `marker${j * 3}`).sort())
        expect(await found(store, '"paid late" ünïcödé')).toEqual(['marker0', 'marker12', 'marker16', 'marker20', 'marker24', 'marker28', 'marker32', 'marker36', 'marker4', 'marker8'])
        // Nothing about the events moved: both chains verify, every event counted.
        expect(await verifyChains(store.kind, store.integrity!)).toMatchObject({ intact: true, events: 40 })
        expect(await store.getById(old[0]!.id, { tenant_id: 'acme' })).toEqual(old[0])
      } finally {
        await fixture.dispose()
      }
    })

    it('two backfills at once (the CLI beside a running serve) share the rows: each filled once, all filled', async () => {
      const fixture = await open()
      const { store } = fixture
      const other = await fixture.another()
      try {
        const all = Array.from({ length: 60 }, (_, i) => storedEvent({ tenant_id: `t${i % 3}`, occurred_at: isoAt(i), metadata: { word: 'concurrent', i } }))
        await store.insertBatch(all)
        const expected = await fixture.documents()
        await fixture.dropDocuments(all.map((e) => e.id))
        await store.migrate()
        const [a, b] = await Promise.all([
          runSearchBackfill(store.searchBackfill!, { batchRows: 5, pauseMs: 1 }),
          runSearchBackfill(other.searchBackfill!, { batchRows: 5, pauseMs: 1 }),
        ])
        expect(a.filled + b.filled).toBe(60)
        expect([a.remaining, b.remaining]).toEqual([0, 0])
        expect(await fixture.documents()).toEqual(expected)
        expect((await store.query({ search: parseSearch('concurrent') }, { limit: 100 })).events).toHaveLength(60)
        expect(await verifyChains(store.kind, store.integrity!)).toMatchObject({ intact: true, events: 60 })
      } finally {
        await other.close()
        await fixture.dispose()
      }
    })
  })
}

// ---- embedded ----

const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))))

backfillContract('embedded', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-search-backfill-'))
  dirs.push(dataDir)
  const file = path.join(dataDir, EMBEDDED_DB_FILE)
  await migrateAllBut(embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 })), EMBEDDED_MIGRATIONS, BEFORE_BACKFILL)
  const store = await createEmbeddedStore({ dataDir })
  const raw = openEmbeddedConnection(file, { timeoutMs: 5_000 })
  return {
    store,
    async dropDocuments(ids) {
      const drop = raw.prepare<[string], never>('DELETE FROM audit_logs_fts WHERE rowid = (SELECT rowid FROM audit_logs WHERE id = ?)')
      for (const id of ids) drop.run(id)
    },
    async documents() {
      const rows = raw.prepare<[], { id: string; doc: string | null }>('SELECT a.id, f.doc FROM audit_logs a LEFT JOIN audit_logs_fts f ON f.rowid = a.rowid').all()
      return new Map(rows.map((row) => [row.id, row.doc === null ? [] : row.doc.split(' ')]))
    },
    another: () => createEmbeddedStore({ dataDir }),
    async dispose() {
      raw.close()
      await store.close()
    },
  }
})

// ---- PostgreSQL ----

const schemas: string[] = []
afterAll(() => (hasPostgres ? dropSchemas(schemas) : undefined))

async function withClient<T>(schema: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A store at migration 86 (no fill guard, no backfill index), as deployed before this step. */
async function postgresBeforeBackfill(prefix: string): Promise<{ store: Store; schema: string }> {
  const schema = uniqueSchema(prefix)
  schemas.push(schema)
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
  try {
    await migrateAllBut(postgresMigrationTarget(pool, { schema, lockTimeoutMs: 5_000 }), POSTGRES_MIGRATIONS, BEFORE_BACKFILL)
  } finally {
    await pool.end()
  }
  return { store: await createPostgresStore({ connectionString: POSTGRES_URL, schema }), schema }
}

describe.skipIf(!hasPostgres)('postgres', () => {
  backfillContract('postgres', async () => {
    const { store, schema } = await postgresBeforeBackfill('sbf')
    return {
      store,
      // The path someone with the database's owner role has (replica mode skips the guard): the
      // state migration 50 left behind, the column NULL, without inserting through old code.
      dropDocuments: (ids) =>
        withClient(schema, async (client) => {
          await client.query('SET session_replication_role = replica')
          await client.query('UPDATE audit_logs SET search = NULL WHERE id = ANY($1::uuid[])', [ids])
        }),
      documents: () =>
        withClient(schema, async (client) => {
          const { rows } = await client.query<{ id: string; doc: string | null }>('SELECT id::text, search::text AS doc FROM audit_logs')
          return new Map(rows.map((row) => [row.id, row.doc === null || row.doc === '' ? [] : tokensOf(row.doc)]))
        }),
      another: () => createPostgresStore({ connectionString: POSTGRES_URL, schema }),
      dispose: () => store.close(),
    }
  })

  it('the append-only guard lets an UPDATE through only to fill a missing search document, inside the fill setting', async () => {
    const { store, schema } = await postgresBeforeBackfill('sbfguard')
    try {
      await store.migrate()
      const [indexed, bare] = [storedEvent({ tenant_id: 'acme', metadata: { w: 'alpha' } }), storedEvent({ tenant_id: 'acme', metadata: { w: 'beta' } })]
      await store.insertBatch([indexed, bare])
      await withClient(schema, async (client) => {
        await client.query('SET session_replication_role = replica')
        await client.query('UPDATE audit_logs SET search = NULL WHERE id = $1', [bare.id])
      })
      const doc = toTsvector(searchTokens(bare))
      await withClient(schema, async (client) => {
        const inFill = async (sql: string, params: unknown[] = []) => {
          await client.query('BEGIN')
          await client.query("SELECT set_config('auditq.search_fill', 'on', true)")
          try {
            await client.query(sql, params)
            await client.query('COMMIT')
          } catch (error) {
            await client.query('ROLLBACK')
            throw error
          }
        }
        // Without the setting the statement guard refuses any UPDATE, even the fill, even of no row.
        await expect(client.query('UPDATE audit_logs SET search = $1::tsvector WHERE id = $2', [doc, bare.id])).rejects.toThrow(/append-only; UPDATE refused/)
        await expect(client.query('UPDATE audit_logs SET action = action WHERE false')).rejects.toThrow(/append-only; UPDATE refused/)
        // With it, every other column stays shut: the event, its chain columns, its canonical version.
        for (const [set, params] of [
          ["action = 'forged'", []],
          ["metadata = '{}'::jsonb", []],
          ['seq = seq + 100', []],
          ["hash = 'x'", []],
          ['canonical_version = 1', []],
          ["search = $2::tsvector, description = 'forged'", [doc]],
        ] as const) {
          await expect(inFill(`UPDATE audit_logs SET ${set} WHERE id = $1`, [bare.id, ...params])).rejects.toThrow(/only a missing search document may be filled in/)
        }
        // A document once written cannot be rewritten (nor removed), not even to the same value.
        await expect(inFill("UPDATE audit_logs SET search = 'forged'::tsvector WHERE id = $1", [indexed.id])).rejects.toThrow(/only a missing search document/)
        await expect(inFill('UPDATE audit_logs SET search = NULL WHERE id = $1', [indexed.id])).rejects.toThrow(/only a missing search document/)
        await expect(inFill('UPDATE audit_logs SET search = search WHERE id = $1', [indexed.id])).rejects.toThrow(/only a missing search document/)
        // The fill itself goes through, once.
        await inFill('UPDATE audit_logs SET search = $2::tsvector WHERE id = $1', [bare.id, doc])
        await expect(inFill("UPDATE audit_logs SET search = 'again'::tsvector WHERE id = $1", [bare.id])).rejects.toThrow(/only a missing search document/)
        // DELETE and TRUNCATE are refused as before; the setting opens nothing for them.
        await expect(inFill('DELETE FROM audit_logs')).rejects.toThrow(/append-only; DELETE refused/)
        await expect(inFill('TRUNCATE audit_logs')).rejects.toThrow(/append-only; TRUNCATE refused/)
        // Other guarded tables are not opened by it either.
        await expect(inFill("UPDATE audit_checkpoints SET hash = 'x'")).rejects.toThrow(/audit_checkpoints is append-only; UPDATE refused/)
      })
      expect((await store.query({ search: parseSearch('beta') }, { limit: 10 })).events.map((e) => e.id)).toEqual([bare.id])
      expect(await verifyChains(store.kind, store.integrity!)).toMatchObject({ intact: true, events: 2 })
    } finally {
      await store.close()
    }
  })
})

/** `'a':1 'b':2 'a':3` (positions may be merged per lexeme: `'a':1,3`) back to the token list. */
function tokensOf(tsvector: string): string[] {
  const slots: string[] = []
  for (const match of tsvector.matchAll(/'([^']*)':([\d,]+)/g)) for (const position of match[2]!.split(',')) slots[Number(position) - 1] = match[1]!
  return slots
}
