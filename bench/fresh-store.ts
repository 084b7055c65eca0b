/**
 * An empty store for one measurement: embedded in a new temporary directory, or PostgreSQL in a
 * new schema. `dispose` closes it and removes the directory or the schema, so every measurement
 * starts from the same empty state and leaves nothing behind.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import type { Store } from '../src/store/store.js'

export interface FreshStore {
  store: Store
  dispose: () => Promise<void>
}

export interface FreshStoreOptions {
  /** `embedded`; anything else is PostgreSQL at `databaseUrl`. */
  kind: string
  databaseUrl: string
  /** Names the directory and schema after the bench (`auditq-bench-<tag>-…`, `bench_<tag>_…`), so a leftover says whose it is. */
  tag?: string
}

export async function openFreshStore({ kind, databaseUrl, tag }: FreshStoreOptions): Promise<FreshStore> {
  if (kind === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), tag ? `auditq-bench-${tag}-` : 'auditq-bench-'))
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    return { store, dispose: async () => { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = `bench_${tag ? `${tag}_` : ''}${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  await store.migrate()
  return {
    store,
    dispose: async () => {
      await store.close()
      const client = new pg.Client({ connectionString: databaseUrl })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}
