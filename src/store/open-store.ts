import { AuditqError } from '../errors.js'
import type { Config } from '../config.js'
import type { Logger } from '../util/logger.js'
import type { EmbeddedDriverSetting } from './embedded/sqlite-driver.js'
import type { Store } from './store.js'
import type { PartitionInterval } from './postgres/partition-layout.js'

export interface OpenStoreOptions {
  /** postgres://… selects PostgreSQL; absent selects the embedded file store. */
  databaseUrl?: string | undefined
  /** PostgreSQL schema (default public). */
  databaseSchema?: string | undefined
  dataDir: string
  /** The embedded store's SQLite driver (config `embeddedDriver`); default AUDITQ_EMBEDDED_DRIVER, else auto. */
  embeddedDriver?: EmbeddedDriverSetting | undefined
  applicationName?: string
  /** PostgreSQL read pool (query, export, reports, verify): its size and statement timeout. */
  reads?: { poolMax: number; statementTimeoutMs: number } | undefined
  /** PostgreSQL streaming replica for reads, and when it is too far behind to use. */
  readReplica?: { url: string; maxLagMs: number; probeEveryMs: number } | undefined
  /** PostgreSQL's time-partitioned layout; absent = one table. */
  partitions?: { interval: PartitionInterval; ahead: number; maintainEveryMs: number } | undefined
  /** Receives driver-level warnings (e.g. a pooled connection dropped while idle). */
  logger?: Logger
}

/** Where the configured store lives, as `openStore` takes it. */
export function storeLocation(config: Config): OpenStoreOptions {
  return {
    databaseUrl: config.databaseUrl,
    databaseSchema: config.databaseSchema,
    dataDir: config.dataDir,
    embeddedDriver: config.embeddedDriver,
    reads: { poolMax: config.reads.poolMax, statementTimeoutMs: config.reads.statementTimeoutMs },
    readReplica: config.reads.replicaUrl
      ? { url: config.reads.replicaUrl, maxLagMs: config.reads.replicaMaxLagMs, probeEveryMs: config.reads.replicaProbeMs }
      : undefined,
    partitions: config.partitions.interval
      ? { interval: config.partitions.interval, ahead: config.partitions.ahead, maintainEveryMs: config.partitions.maintainEveryMs }
      : undefined,
  }
}

/**
 * Opens and migrates the configured store. Drivers load lazily so a PostgreSQL deployment never
 * loads the embedded store's native module and vice versa.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  let store: Store
  if (options.readReplica && !options.databaseUrl) {
    throw new AuditqError('AUDITQ_CONFIG', 'reads.replicaUrl (AUDITQ_DATABASE_READ_URL): a read replica needs a PostgreSQL primary (AUDITQ_DATABASE_URL); the embedded store has none')
  }
  if (options.partitions && !options.databaseUrl) {
    throw new AuditqError('AUDITQ_CONFIG', 'partitions.interval (AUDITQ_PG_PARTITION_INTERVAL): partitioning is a PostgreSQL layout (AUDITQ_DATABASE_URL); the embedded store has none')
  }
  if (options.databaseUrl) {
    const { createPostgresStore } = await import('./postgres/postgres-store.js')
    store = await createPostgresStore({
      connectionString: options.databaseUrl,
      applicationName: options.applicationName ?? 'auditq',
      ...(options.databaseSchema ? { schema: options.databaseSchema } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.reads ? { readPoolMax: options.reads.poolMax, readStatementTimeoutMs: options.reads.statementTimeoutMs } : {}),
      ...(options.partitions ? { partitioning: options.partitions } : {}),
      ...(options.readReplica
        ? { readReplica: { connectionString: options.readReplica.url, maxLagMs: options.readReplica.maxLagMs, probeEveryMs: options.readReplica.probeEveryMs } }
        : {}),
    })
  } else {
    const { createEmbeddedStore } = await import('./embedded/embedded-store.js')
    store = await createEmbeddedStore({
      dataDir: options.dataDir,
      ...(options.embeddedDriver ? { driver: options.embeddedDriver } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    })
  }
  try {
    await store.migrate()
  } catch (error) {
    await store.close().catch(() => undefined)
    throw error
  }
  return store
}
