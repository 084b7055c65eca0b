import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type ConfigInput } from '../../src/config.js'
import { buildServer } from '../../src/http/server.js'
import { createAuditLogger, type AuditLogger } from '../../src/sdk/audit-logger.js'
import type { Store } from '../../src/store/store.js'
import { createEmbeddedStore } from '../../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import { createLogger } from '../../src/util/logger.js'
import { POSTGRES_URL, testPartitioning, uniqueSchema } from './services.js'

export type StoreKind = 'embedded' | 'postgres'

export interface TestStore {
  store: Store
  /** Where the store lives, as `openStore` takes it. */
  location: { databaseUrl?: string; databaseSchema?: string; dataDir: string }
  dispose(): Promise<void>
}

/** A fresh, migrated store of the given kind: a temp dir, or a throwaway PostgreSQL schema. */
export async function freshStore(kind: StoreKind): Promise<TestStore> {
  if (kind === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-test-'))
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    return {
      store,
      location: { dataDir },
      dispose: async () => {
        await store.close()
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
  }
  const schema = uniqueSchema('t')
  const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
  await store.migrate()
  // For files a test writes beside the store (an archive sink's, say): its own, removed with it.
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-test-'))
  return {
    store,
    location: { databaseUrl: POSTGRES_URL, databaseSchema: schema, dataDir },
    dispose: async () => {
      rmSync(dataDir, { recursive: true, force: true })
      await store.close()
      const client = new pg.Client({ connectionString: POSTGRES_URL })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}

export interface TestApp {
  app: FastifyInstance
  audit: AuditLogger
  store: Store
  close(): Promise<void>
}

/** The real HTTP service over a real store, for `app.inject` or `app.listen`. */
export async function startApp(kind: StoreKind, overrides: Partial<ConfigInput> = {}): Promise<TestApp> {
  const { store, dispose } = await freshStore(kind)
  // Rate limiting off unless a test asks for it: fuzz and load tests send thousands of requests a second.
  const config = loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 } }, overrides)
  const logger = createLogger({ level: 'silent' })
  const audit = await createAuditLogger({ store, logger, redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation } })
  const app = await buildServer({ config, audit, logger })
  return {
    app,
    audit,
    store,
    close: async () => {
      await app.close()
      await audit.close()
      await dispose()
    },
  }
}
