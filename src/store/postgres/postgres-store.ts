/**
 * The PostgreSQL store: a thin adapter over node-postgres. SQL and row mapping live in sql.ts, the
 * schema and its indexes in migrations.ts, the retryable-error list in classify-error.ts, the
 * connection pools in pools.ts.
 *
 * Every connection starts with `search_path=<schema>` and `TimeZone=UTC` in its startup packet,
 * so neither costs a round trip and no statement ever runs with the wrong schema.
 */
import type pg from 'pg'
import { AuditqError } from '../../errors.js'
import type { AuditEvent } from '../../event/types.js'
import { eventFromCanonical, prepareEvent, type PreparedEvent } from '../../integrity/prepared-event.js'
import type { EventFilter } from '../../query/event-filter.js'
import type { ReportData, ReportOptions } from '../../report/model.js'
import type { Logger } from '../../util/logger.js'
import { runMigrations } from '../migrate.js'
import type { ChainWriteStats, InsertResult, MigrationReport, Page, PageRequest, ReadOptions, ReadReplicaStatus, Store, StoreErrorKind } from '../store.js'
import { classifyPostgresError } from './classify-error.js'
import { CHAINED_FORMS, insertChained } from './chained-insert.js'
import { PostgresFeed } from './feed.js'
import { ChainHeadCache } from './head-cache.js'
import { PostgresIntegrity } from './integrity.js'
import { PostgresCompleteness } from './completeness.js'
import { PostgresStreamStore } from './stream-store.js'
import { PostgresKeyStore } from './key-store.js'
import { PostgresSubjectKeyStore } from './subject-key-store.js'
import { PostgresRetentionRules } from './retention-rules.js'
import { POSTGRES_MIGRATIONS, postgresMigrationTarget } from './migrations.js'
import { fetchRows } from './read-session.js'
import type { ReplicaRouter } from './replica-router.js'
import { describeConnection, openPools, type StorePools } from './pools.js'
import type { PartitioningSettings } from './partition-layout.js'
import { PartitionRetention } from './partition-retention.js'
import { PostgresPartitions } from './partitions.js'
import { postgresReport } from './report.js'
import { selectById } from './by-id.js'
import { PostgresSearchBackfill } from './search-backfill.js'
import {
  buildSelect,
  fromRow,
  INSERT_UNNEST_NAME,
  INSERT_UNNEST_PARTITIONED_NAME,
  INSERT_UNNEST_PARTITIONED_SQL,
  INSERT_UNNEST_SQL,
  insertParams,
  type AuditRow,
} from './sql.js'

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/db; the password never leaves this object. */
  connectionString: string
  /** Created by migrate() if missing. One per test file keeps parallel suites apart. */
  schema?: string
  /** Connections for writes: inserts, the worker, chain checkpoints, retention, health pings. */
  poolMax?: number
  /**
   * Connections for reads (query, export, reports, verify), a pool of their own so that reads,
   * however many or slow, never take a connection ingest is waiting for.
   */
  readPoolMax?: number
  /** `statement_timeout` on every read connection; reports set their own per transaction. */
  readStatementTimeoutMs?: number
  /**
   * A streaming replica for reads (query, export, reports, verify): used while it is at most
   * `maxLagMs` behind, the primary's read pool otherwise (replica-router.ts).
   */
  readReplica?: { connectionString: string; maxLagMs: number; probeEveryMs: number }
  applicationName?: string
  /** Waiting for a pooled client or a new connection; beyond this the store counts as down. */
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  pingTimeoutMs?: number
  /** How long migrate() waits for another process's migration before failing. */
  migrationLockTimeoutMs?: number
  /** Rows `stream()` fetches per cursor read: bounds its memory. */
  streamChunkRows?: number
  /** Receives errors of idle pooled connections (e.g. the server restarted). */
  logger?: Logger
  /**
   * Hash-chain every insert (default true). Off only for the benchmark's same-run baseline:
   * rows stored unchained are outside every tenant's chain and verify never sees them.
   */
  chain?: boolean
  /**
   * The time-partitioned layout of audit_logs (docs/scaling.md): ranges of occurred_at of one
   * `interval`, `ahead` more created than the accepted clock skew needs, checked every
   * `maintainEveryMs`. Absent: one table, as always.
   */
  partitioning?: PartitioningSettings & { maintainEveryMs?: number; dropLockTimeoutMs?: number }
}

const DEFAULTS = {
  schema: 'public',
  /** Group commit writes one batch at a time; the rest serve the worker, checkpoints, retention
   * and pings. With the read pool, 18 per process leaves room for several processes under
   * PostgreSQL's default max_connections=100 (connections open on demand and close when idle). */
  poolMax: 10,
  /** Exports, reports and verifications are capped over HTTP (2 + 2 + 2 by default); the rest
   * serve pages. Reads beyond this wait for a read connection, never for a write one. */
  readPoolMax: 8,
  /** One page, one export fetch or one verify step; far above any of them on a healthy server. */
  readStatementTimeoutMs: 60_000,
  applicationName: 'auditq',
  /** Long enough for a TLS handshake to a remote server, short enough that an outage is reported
   * as `transient` while the caller can still back off and retry. */
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  /** A health check that takes longer than this is a failed one. */
  pingTimeoutMs: 2_000,
  /** Migration 1 is instant; later ones on a large table may take a while. */
  migrationLockTimeoutMs: 60_000,
  /** ~1,000 rows of a typical event are well under 1 MB. */
  streamChunkRows: 1_000,
  /** Ranges are created days ahead (the skew plus `ahead` ranges): an hourly check has hours to spare. */
  partitionMaintainEveryMs: 3_600_000,
  /** A partition drop waits this long for its brief lock on audit_logs, then leaves the rows to chunked deletes. */
  partitionDropLockTimeoutMs: 2_000,
} as const

/** Lower-case identifiers only: the name also goes, unquoted, into the startup `options`. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export async function createPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = options.schema ?? DEFAULTS.schema
  if (!SCHEMA_NAME.test(schema)) {
    throw new AuditqError('AUDITQ_CONFIG', `schema: must match ${SCHEMA_NAME.source}; got ${JSON.stringify(schema)}`)
  }
  const readStatementTimeoutMs = options.readStatementTimeoutMs ?? DEFAULTS.readStatementTimeoutMs
  if (!Number.isInteger(readStatementTimeoutMs) || readStatementTimeoutMs < 1) {
    throw new AuditqError('AUDITQ_CONFIG', `readStatementTimeoutMs: must be a positive integer; got ${readStatementTimeoutMs}`)
  }
  const pools = openPools({
    connectionString: options.connectionString,
    schema,
    applicationName: options.applicationName ?? DEFAULTS.applicationName,
    poolMax: options.poolMax ?? DEFAULTS.poolMax,
    readPoolMax: options.readPoolMax ?? DEFAULTS.readPoolMax,
    readStatementTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    readReplica: options.readReplica,
    logger: options.logger,
  })
  const partitioning = options.partitioning
  return new PostgresStore(pools, {
    ...(partitioning
      ? {
          partitioning: {
            interval: partitioning.interval,
            ahead: partitioning.ahead,
            since: partitioning.since,
            maintainEveryMs: partitioning.maintainEveryMs ?? DEFAULTS.partitionMaintainEveryMs,
            dropLockTimeoutMs: partitioning.dropLockTimeoutMs ?? DEFAULTS.partitionDropLockTimeoutMs,
          },
        }
      : {}),
    logger: options.logger,
    description: describeConnection(options.connectionString),
    schema,
    pingTimeoutMs: options.pingTimeoutMs ?? DEFAULTS.pingTimeoutMs,
    migrationLockTimeoutMs: options.migrationLockTimeoutMs ?? DEFAULTS.migrationLockTimeoutMs,
    streamChunkRows: options.streamChunkRows ?? DEFAULTS.streamChunkRows,
    chain: options.chain ?? true,
  })
}

interface Settings {
  description: string
  schema: string
  pingTimeoutMs: number
  migrationLockTimeoutMs: number
  streamChunkRows: number
  chain: boolean
  partitioning?: PartitioningSettings & { maintainEveryMs: number; dropLockTimeoutMs: number }
  logger?: Logger | undefined
}

export class PostgresStore implements Store {
  readonly kind = 'postgres'
  readonly parallelWrites = true
  readonly description: string
  /** The schema on this store's search_path. */
  readonly schemaName: string
  readonly integrity: PostgresIntegrity
  readonly completeness: PostgresCompleteness
  /** Heads this process last wrote: lets a sole writer send its links ready-made (head-cache.ts). */
  readonly chainHeads = new ChainHeadCache()
  private ended: Promise<void> | undefined
  /** Writes: inserts, chain, checkpoints, retention, ping. */
  private readonly pool: pg.Pool
  /** Reads callers ask for: query, export, reports, verify, feed (`statement_timeout` on each connection). */
  private readonly readPool: pg.Pool
  /** API key lookups (see `keys`). */
  private readonly keysPool: pg.Pool
  /** A streaming replica and what decides whether reads use it; absent without a read URL. */
  private readonly replica: { pool: pg.Pool; router: ReplicaRouter } | undefined
  /** Where multi-statement reads take their client: the replica's pool or the primary's read pool. */
  private readonly reads: Pick<pg.Pool, 'connect'>
  readonly keys: PostgresKeyStore
  readonly subjectKeys: PostgresSubjectKeyStore
  readonly feed: PostgresFeed
  readonly retentionRules: PostgresRetentionRules
  readonly streams: PostgresStreamStore
  readonly searchBackfill: PostgresSearchBackfill
  /** The partitioned layout's maintenance; absent in the unpartitioned layout. */
  readonly partitions: PostgresPartitions | undefined

  constructor(
    pools: StorePools,
    private readonly settings: Settings,
  ) {
    this.pool = pools.write
    this.readPool = pools.read
    this.keysPool = pools.keys
    this.replica = pools.replica
    const router = pools.replica?.router
    this.reads = router ? { connect: () => router.connect() } : pools.read
    this.keys = new PostgresKeyStore(pools.keys)
    this.subjectKeys = new PostgresSubjectKeyStore(pools)
    this.feed = new PostgresFeed((fn) => this.read(fn))
    this.retentionRules = new PostgresRetentionRules(pools.write)
    this.streams = new PostgresStreamStore(pools.keys)
    this.searchBackfill = new PostgresSearchBackfill(pools.write)
    this.description = settings.description
    this.schemaName = settings.schema
    // Completeness judges gaps older than a bound: a replica's lag would read as missing events, so it stays on the primary.
    this.completeness = new PostgresCompleteness(pools.read, settings.logger)
    const partitioning = settings.partitioning
    this.partitions = partitioning
      ? new PostgresPartitions(pools.write, { ...partitioning, schema: settings.schema, logger: settings.logger })
      : undefined
    const partitions = this.partitions
    const partitionRetention = partitions && partitioning
      ? new PartitionRetention(pools.write, () => partitions.list(), { dropLockTimeoutMs: partitioning.dropLockTimeoutMs })
      : undefined
    this.integrity = new PostgresIntegrity(
      { write: pools.write, read: this.reads },
      { schema: settings.schema, chunkRows: settings.streamChunkRows },
      partitionRetention,
    )
  }

  /** One single-statement read, on the replica when it may answer (see replica-router.ts). */
  private read<T>(fn: (pool: pg.Pool) => Promise<T>, options?: ReadOptions): Promise<T> {
    if (!this.replica || options?.consistency === 'primary') return fn(this.readPool)
    return this.replica.router.read(fn)
  }

  async migrate(): Promise<MigrationReport> {
    const target = postgresMigrationTarget(this.pool, {
      schema: this.settings.schema,
      lockTimeoutMs: this.settings.migrationLockTimeoutMs,
    })
    const report = await runMigrations(target, POSTGRES_MIGRATIONS)
    // The layout is settled before anything is written, and ranges exist ahead before the first insert.
    if (this.partitions) {
      await this.partitions.prepare()
      this.partitions.start()
    }
    // Probe once before the first read so a healthy replica is used from the start; the timer then
    // keeps the verdict current. A replica that is down now only means reads start on the primary.
    await this.replica?.router.start()
    return report
  }

  /**
   * `auditq migrate --partition`: converts the unpartitioned table in place (partitions.ts,
   * `convert`), then creates the ranges ahead. A store opened with `partitioning` set does this
   * by itself only for an empty table.
   */
  async convertToPartitioned(settings: PartitioningSettings): Promise<{ legacyRows: number; legacyUntil: string | null; partitions: number }> {
    const partitions = new PostgresPartitions(this.pool, { ...settings, schema: this.settings.schema, maintainEveryMs: 0, logger: this.settings.logger })
    const converted = await partitions.convert()
    const status = await partitions.maintain()
    return { ...converted, partitions: status.partitions }
  }

  /**
   * Chained (the default): one statement, see chained-insert.ts, fed the same canonical forms the
   * queue carries (prepareEvent: the canonical form the chain hashes anyway, its digest and search
   * document), joined into one jsonb parameter that PostgreSQL splits into columns in C. Writing an
   * array literal per column instead cost the process about 5 µs more per event, with PostgreSQL's
   * work level (docs/decisions.md, "Direct mode writes canonical forms too"). Unchained (bench baseline only):
   * one statement too, so it is its own transaction and pool.query is safe.
   * `rowCount` counts only rows actually inserted; skipped conflicts are the duplicates.
   */
  async insertBatch(events: readonly AuditEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 }
    if (this.settings.chain) {
      const result = await insertChained(this.pool, events.map(prepareEvent), this.chainHeads, this.partitions ? CHAINED_FORMS.preparedPartitioned : CHAINED_FORMS.prepared)
      if (result.inserted > 0) this.feed.commits.notify()
      return result
    }
    const statement = this.partitions
      ? { name: INSERT_UNNEST_PARTITIONED_NAME, text: INSERT_UNNEST_PARTITIONED_SQL }
      : { name: INSERT_UNNEST_NAME, text: INSERT_UNNEST_SQL }
    const result = await this.pool.query({ ...statement, values: insertParams(events) })
    const inserted = result.rowCount ?? 0
    return { inserted, duplicates: events.length - inserted }
  }

  /** The queue worker's insert: the producer's canonical forms passed through (canonical-insert-sql.ts). */
  async insertPrepared(events: readonly PreparedEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 }
    if (!this.settings.chain) return this.insertBatch(events.map((event) => eventFromCanonical(event.canonical)))
    const result = await insertChained(this.pool, events, this.chainHeads, this.partitions ? CHAINED_FORMS.preparedPartitioned : CHAINED_FORMS.prepared)
    if (result.inserted > 0) this.feed.commits.notify()
    return result
  }

  /** Reads `limit + 1` rows: the extra one only says whether a next page exists. */
  async query(filter: EventFilter, page: PageRequest, options?: ReadOptions): Promise<Page> {
    const { text, values } = buildSelect(filter, page.after, page.limit + 1)
    const { rows } = await this.read((pool) => pool.query<AuditRow>(text, values), options)
    const events = rows.slice(0, page.limit).map(fromRow)
    const last = events.at(-1)
    if (rows.length <= page.limit || !last) return { events }
    return { events, next: { occurred_at: last.occurred_at, id: last.id } }
  }

  async getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>, options?: ReadOptions): Promise<AuditEvent | null> {
    // The column is uuid: anything else cannot be stored, and sending it would raise 22P02.
    if (!UUID.test(id)) return null
    const byId = (pool: pg.Pool) => selectById(pool, id, filter?.tenant_id, { partitioned: this.partitions !== undefined })
    let row = await this.read(byId, options)
    // Someone asking for one id has usually just written it: a replica that has not replayed it
    // yet must not answer "no such event". One primary lookup settles it.
    if (!row && this.replica && options?.consistency !== 'primary') row = await byId(this.readPool)
    return row ? fromRow(row) : null
  }

  /**
   * One SQL cursor on a read connection of its own, inside one REPEATABLE READ READ ONLY
   * transaction, fetched `streamChunkRows` at a time: memory stays flat however large the export,
   * and the whole export is one consistent snapshot. That snapshot holds back vacuum while it
   * runs, which is acceptable for an export and why pages do not use it. Each fetch is bounded by
   * the read pool's statement timeout; how long a consumer may leave it idle is the caller's to
   * bound (the HTTP export aborts a client that stops reading).
   *
   * The client is taken on the first `next()` and released in `finally`, which also runs when the
   * consumer stops early (`break`, a thrown error, an HTTP client hanging up).
   */
  async *stream(filter: EventFilter): AsyncGenerator<AuditEvent> {
    const { text, values } = buildSelect(filter)
    const client = await this.reads.connect()
    let broken: Error | undefined
    let open = false
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      open = true
      for await (const row of fetchRows<AuditRow>(client, text, values, this.settings.streamChunkRows)) yield fromRow(row)
      await client.query('COMMIT')
      open = false
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error))
      throw error
    } finally {
      // Stopped early: end the transaction (and with it the cursor) before the connection goes
      // back. After a failure its state is unknown: releasing with the error destroys it rather
      // than awaiting an answer that may never come.
      if (open && !broken) await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      client.release(broken)
    }
  }

  /** One REPEATABLE READ READ ONLY transaction on one client: see report.ts. */
  report(filter: EventFilter, options: ReportOptions): Promise<ReportData> {
    return postgresReport(this.reads, filter, options)
  }

  /** Bounds the whole check, waiting for a pooled client included, by `pingTimeoutMs`. */
  async ping(): Promise<void> {
    const check = this.pool.query('SELECT 1')
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AuditqError('AUDITQ_STORE_UNAVAILABLE', `postgres: no answer to ping within ${this.settings.pingTimeoutMs} ms`)),
        this.settings.pingTimeoutMs,
      )
    })
    // If the deadline wins, the late outcome of `check` has already been reported as the timeout.
    check.catch(() => undefined)
    try {
      await Promise.race([check, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  chainWriteStats(): ChainWriteStats {
    return { linkOffers: this.chainHeads.stats.offered, linkOffersTaken: this.chainHeads.stats.taken }
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyPostgresError(error)
  }

  /** Ends the pool once; later calls wait for the same end. */
  close(): Promise<void> {
    this.replica?.router.stop()
    this.partitions?.stop()
    this.ended ??= Promise.all([this.pool.end(), this.readPool.end(), this.keysPool.end(), this.replica?.pool.end()]).then(() => undefined)
    return this.ended
  }

  /** Write pool occupancy, for health output and for tests that check clients come back. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount }
  }

  partitionStatus(): { partitions: number; coveredUntil: string | null; defaultRows: number } | undefined {
    return this.partitions?.status()
  }

  /** The read replica's state, for metrics and health; undefined without a read URL. */
  readReplicaStatus(): ReadReplicaStatus | undefined {
    return this.replica?.router.status()
  }

  /** Read pool occupancy (query, export, reports, verify). */
  readPoolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.readPool.totalCount, idle: this.readPool.idleCount, waiting: this.readPool.waitingCount }
  }
}
