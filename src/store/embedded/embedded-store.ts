/**
 * The embedded default: events in one SQLite file under the data dir, through better-sqlite3 or
 * Node.js's built-in node:sqlite (sqlite-driver.ts; both synchronous, same SQL).
 * No server, installed by plain `npm install`. A thin adapter: SQL and row mapping live in sql.ts,
 * the schema in migrations.ts. See docs/decisions.md for why SQLite and not PGlite.
 *
 * The driver is synchronous: every call below runs on the caller's turn of the event loop.
 * A 500-event commit (the default `groupCommit.maxBatchEvents`) blocks it for ~15 ms median,
 * ~26 ms p90, up to 50-90 ms worst case on the 2-core dev machine while other builds ran; the
 * fsync itself is ~0.3 ms there, the rest is writing the row and its seven index entries. Reads
 * are bounded by the page size the caller asks for, and `stream()` by its chunk size. A lock held
 * by another process is also waited for synchronously (up to busyTimeoutMs), which is why every
 * write here is one short transaction that never spans an await.
 */
import { searchTokens } from '../../query/search/document.js'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { embeddedDriverFromEnv } from '../../config.js'
import { AuditqError } from '../../errors.js'
import type { AuditEvent } from '../../event/types.js'
import type { CountedValue, ReportData, ReportOptions } from '../../report/model.js'
import { groupFailures, summarizeBuckets, type BucketRow, type FailureRow } from '../../report/rows.js'
import { runMigrations } from '../migrate.js'
import type { EventFilter } from '../../query/event-filter.js'
import type {
  CursorPosition,
  InsertResult,
  MigrationReport,
  Page,
  PageRequest,
  Store,
  StoreErrorKind,
} from '../store.js'
import { GENESIS_HASH, hashBytes, linkRun, packedContentDigests } from '../../integrity/canonical.js'
import { INSERT_CHAINED_SQL, SELECT_HEAD_SQL, UPSERT_HEAD_SQL } from './chain-sql.js'
import { EmbeddedFeed, INSERT_FEED_ROW_SQL } from './feed.js'
import { EmbeddedIntegrity } from './integrity.js'
import { EmbeddedCompleteness } from './completeness.js'
import { INSERT_RUN_SQL, RunCollector, type Run } from './producer-runs.js'
import { EmbeddedStreamStore } from './stream-store.js'
import { EmbeddedSearchBackfill } from './search-backfill.js'
import { EmbeddedKeyStore } from './key-store.js'
import { EmbeddedSubjectKeyStore } from './subject-key-store.js'
import { EmbeddedRetentionRules } from './retention-rules.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from './migrations.js'
import { ReportReader } from './report-reader.js'
import { resolveEmbeddedDriver, type EmbeddedDriverSetting, type SqliteDatabase, type SqliteDriver, type SqliteStatement } from './sqlite-driver.js'
import type { Logger } from '../../util/logger.js'
import { bucketCounts, failuresByAction, topValues } from './report-sql.js'
import {
  buildSelect,
  fromRow,
  INSERT_FTS_SQL,
  INSERT_SQL,
  SELECT_BY_ID_AND_TENANT_SQL,
  SELECT_BY_ID_SQL,
  toRow,
  type AuditRow,
} from './sql.js'

export const EMBEDDED_DB_FILE = 'auditq.db'

export interface EmbeddedStoreOptions {
  /** Created (mode 0700: audit trails are sensitive) if missing; the database is `<dataDir>/auditq.db`. */
  dataDir: string
  /**
   * How long a statement waits for another connection's write lock before failing with
   * SQLITE_BUSY. 5 s covers a CLI writing while the service commits batches of milliseconds.
   */
  busyTimeoutMs?: number
  /** A migration may wait for another process's migration, which can take long on a big file. */
  migrationLockTimeoutMs?: number
  /** Rows `stream()` reads per statement: bounds memory and how long one read holds the loop. */
  streamChunkRows?: number
  /** Hash-chain every insert (default true); off only for the benchmark's same-run baseline. */
  chain?: boolean
  /** Which SQLite driver (default AUDITQ_EMBEDDED_DRIVER, else `auto`: see sqlite-driver.ts). */
  driver?: EmbeddedDriverSetting
  /** Told once per process, at info, which driver is in use. */
  logger?: Logger
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000
const DEFAULT_MIGRATION_LOCK_TIMEOUT_MS = 60_000
const DEFAULT_STREAM_CHUNK_ROWS = 1_000

/**
 * SQLite result codes (both drivers report extended codes such as SQLITE_IOERR_FSYNC, so these
 * match as prefixes) for which the same batch may well succeed later: lock contention, a full or
 * failing disk, a file that could not be opened yet. Everything else is about the data.
 */
const TRANSIENT_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN']

export async function createEmbeddedStore(options: EmbeddedStoreOptions): Promise<Store> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 })
  const file = path.resolve(options.dataDir, EMBEDDED_DB_FILE)
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
  const driver = resolveEmbeddedDriver(options.driver ?? embeddedDriverFromEnv(process.env), options.logger)
  const db = openConnection(driver, file, busyTimeoutMs)
  return new EmbeddedStore(db, file, {
    driver,
    migrationLockTimeoutMs: options.migrationLockTimeoutMs ?? DEFAULT_MIGRATION_LOCK_TIMEOUT_MS,
    streamChunkRows: options.streamChunkRows ?? DEFAULT_STREAM_CHUNK_ROWS,
    busyTimeoutMs,
    chain: options.chain ?? true,
    reader: new ReportReader({ file, busyTimeoutMs, driver }),
    ...(options.logger ? { logger: options.logger } : {}),
  })
}

function openConnection(driver: SqliteDriver, file: string, busyTimeoutMs: number): SqliteDatabase {
  // `timeoutMs` is SQLite's busy_timeout, set before anything else touches the file: concurrent
  // processes (service + CLI) then wait for each other's write lock instead of failing at once.
  const db = driver.open(file, { timeoutMs: busyTimeoutMs })
  try {
    // WAL: readers never block the writer nor the writer them, so a CLI query or an export can run
    // beside the service's inserts. The mode is stored in the file; later opens just confirm it.
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') {
      throw new AuditqError('AUDITQ_CONFIG', `dataDir: ${file} does not support SQLite WAL mode (got ${String(mode)})`)
    }
    // FULL: fsync the WAL on every commit. NORMAL would survive kill -9 but may lose the last
    // acknowledged commits on power loss, and "acknowledged" must mean durable.
    db.pragma('synchronous = FULL')
    // No foreign keys: audit_logs references nothing, so PRAGMA foreign_keys is irrelevant.
  } catch (error) {
    db.close()
    throw error
  }
  return db
}

class EmbeddedStore implements Store {
  readonly kind = 'embedded'
  readonly parallelWrites = false
  readonly description: string
  readonly integrity: EmbeddedIntegrity
  readonly completeness: EmbeddedCompleteness
  readonly keys: EmbeddedKeyStore
  readonly subjectKeys: EmbeddedSubjectKeyStore
  readonly feed: EmbeddedFeed
  readonly retentionRules: EmbeddedRetentionRules
  readonly streams: EmbeddedStreamStore
  readonly searchBackfill: EmbeddedSearchBackfill
  private readonly insertMany: (rows: readonly AuditRow[], docs: readonly string[]) => number
  private readonly insertChained: (digests: Buffer, rows: readonly AuditRow[], docs: readonly string[]) => number
  /**
   * Prepared on first use (the table does not exist until migrate() has run) and kept: keyed by
   * SQL text, which depends only on which filters are set, so the set is bounded.
   */
  private readonly statements = new Map<string, SqliteStatement>()

  constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
    private readonly settings: {
      driver: SqliteDriver
      migrationLockTimeoutMs: number
      streamChunkRows: number
      busyTimeoutMs: number
      chain: boolean
      reader: ReportReader
      logger?: Logger
    },
  ) {
    this.description = file
    this.completeness = new EmbeddedCompleteness(db, settings.logger)
    this.integrity = new EmbeddedIntegrity(db, { driver: settings.driver, file, busyTimeoutMs: settings.busyTimeoutMs, chunkRows: settings.streamChunkRows })
    this.keys = new EmbeddedKeyStore(db)
    this.subjectKeys = new EmbeddedSubjectKeyStore(db)
    this.feed = new EmbeddedFeed(db)
    this.retentionRules = new EmbeddedRetentionRules(db)
    this.streams = new EmbeddedStreamStore(db)
    this.searchBackfill = new EmbeddedSearchBackfill(db)
    // The write lock serializes every chained insert across processes, so each event is numbered
    // and hashed right before its own INSERT; a duplicate (changes = 0) simply does not move the
    // head, and a failing row aborts the transaction, heads included.
    this.insertChained = db
      .transaction((digests: Buffer, rows: readonly AuditRow[], docs: readonly string[]) => {
        const insert = this.statement<[AuditRow & { seq: number; prev_hash: string; hash: string }], never>(INSERT_CHAINED_SQL)
        const index = this.statement<[number | bigint, string], never>(INSERT_FTS_SQL)
        const selectHead = this.statement<[string], { seq: number; hash: string }>(SELECT_HEAD_SQL)
        // `bytes` is the head hash as raw bytes, kept between rows so linking costs one SHA-256 of
        // 64 bytes per event. Links are written into one buffer, slot i for row i (a Buffer per
        // link and its hex cost 1.2 µs per event, against 0.6 µs this way; scratch measurement).
        const heads = new Map<string, { seq: number; hash: string; bytes: Buffer; from: number }>()
        const links = Buffer.allocUnsafe(rows.length * 32)
        const runs = new RunCollector()
        let inserted = 0
        rows.forEach((row, i) => {
          let head = heads.get(row.tenant_id)
          if (!head) {
            const stored = selectHead.get(row.tenant_id) ?? { seq: 0, hash: GENESIS_HASH }
            head = { ...stored, bytes: hashBytes(stored.hash), from: stored.seq }
            heads.set(row.tenant_id, head)
          }
          const next = linkRun(head.bytes, digests, i, 1, links)
          const hash = links.toString('hex', i * 32, i * 32 + 32)
          // Fields set on the row itself (ours, made by toRow) rather than a spread copy per event:
          // the copies showed up as GC time in a profile of 500-event batches.
          const chained = row as AuditRow & { seq: number; prev_hash: string; hash: string }
          chained.seq = head.seq + 1
          chained.prev_hash = head.hash
          chained.hash = hash
          // A duplicate leaves the head where it was; its slot in `links` is simply never read.
          const result = insert.run(chained)
          if (result.changes === 0) return
          index.run(result.lastInsertRowid, docs[i]!)
          runs.add(row)
          head.seq += 1
          head.hash = hash
          head.bytes = next
          inserted += 1
        })
        const upsertHead = this.statement<[string, number, string], never>(UPSERT_HEAD_SQL)
        // One feed row per tenant that took seqs: the all-tenants feed's order (feed.ts).
        const insertFeedRow = this.statement<[string, number, number], never>(INSERT_FEED_ROW_SQL)
        for (const [tenant, head] of heads) {
          if (head.seq > 0) upsertHead.run(tenant, head.seq, head.hash)
          if (head.seq > head.from) insertFeedRow.run(tenant, head.from + 1, head.seq)
        }
        runs.write(this.statement<Run, never>(INSERT_RUN_SQL))
        return inserted
      })
      .immediate
    // IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies. A deferred transaction
    // that upgrades to a writer later can get SQLITE_BUSY without waiting if another process
    // committed in between.
    this.insertMany = db
      .transaction((rows: readonly AuditRow[], docs: readonly string[]) => {
        const insert = this.statement<[AuditRow], never>(INSERT_SQL)
        const index = this.statement<[number | bigint, string], never>(INSERT_FTS_SQL)
        const runs = new RunCollector()
        let inserted = 0
        rows.forEach((row, i) => {
          const result = insert.run(row)
          if (result.changes === 0) return
          index.run(result.lastInsertRowid, docs[i]!)
          runs.add(row)
          inserted += 1
        })
        runs.write(this.statement<Run, never>(INSERT_RUN_SQL))
        return inserted
      })
      .immediate
  }

  async migrate(): Promise<MigrationReport> {
    const target = embeddedMigrationTarget(this.file, () =>
      openConnection(this.settings.driver, this.file, this.settings.migrationLockTimeoutMs),
    )
    return runMigrations(target, EMBEDDED_MIGRATIONS)
  }

  async insertBatch(events: readonly AuditEvent[]): Promise<InsertResult> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 }
    // Map before the transaction so a malformed timestamp fails without touching the file.
    const rows = events.map(toRow)
    // Content digests are computed before the write lock is taken; only the links are hashed under it.
    // Packed into one buffer (32 bytes per event): a Buffer per digest cost 1–2 µs more per event.
    // Search documents too: only the FTS rows are written under the lock (src/query/search/).
    const docs = events.map((event) => searchTokens(event).join(' '))
    const inserted = this.settings.chain ? this.insertChained(packedContentDigests(events), rows, docs) : this.insertMany(rows, docs)
    if (inserted > 0) this.feed.commits.notify()
    return { inserted, duplicates: events.length - inserted }
  }

  async query(filter: EventFilter, page: PageRequest): Promise<Page> {
    const rows = this.select(filter, page.after, page.limit + 1)
    const events = rows.slice(0, page.limit).map(fromRow)
    const last = events.at(-1)
    if (rows.length <= page.limit || !last) return { events }
    return { events, next: { occurred_at: last.occurred_at, id: last.id } }
  }

  async getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>): Promise<AuditEvent | null> {
    const row =
      filter?.tenant_id === undefined
        ? this.statement<[string], AuditRow>(SELECT_BY_ID_SQL).get(id)
        : this.statement<[string, string], AuditRow>(SELECT_BY_ID_AND_TENANT_SQL).get(id, filter.tenant_id)
    return row ? fromRow(row) : null
  }

  /**
   * Keyset chunks, each read whole by one statement, instead of one `.iterate()` cursor: an open
   * iterator keeps the connection busy, and the service must keep inserting while an export runs.
   * Each chunk is its own snapshot; rows committed meanwhile behind the cursor may appear, rows
   * ahead of it never do — the same guarantee as paging through `query()`.
   */
  async *stream(filter: EventFilter): AsyncIterable<AuditEvent> {
    const chunkRows = this.settings.streamChunkRows
    let after: CursorPosition | undefined
    for (;;) {
      const rows = this.select(filter, after, chunkRows)
      for (const row of rows) yield fromRow(row)
      const last = rows.at(-1)
      if (rows.length < chunkRows || !last) return
      after = { occurred_at: new Date(last.occurred_at).toISOString(), id: last.id }
    }
  }

  /**
   * Off the event loop: the statements run on a worker thread with a read-only connection of its
   * own (report-reader.ts), inside one read transaction, so in WAL mode the first SELECT fixes the
   * snapshot every later one sees while this process and others keep committing.
   */
  async report(filter: EventFilter, options: ReportOptions): Promise<ReportData> {
    const [buckets, actors, actions, resourceTypes, failures] = (await this.settings.reader.read(
      [
        bucketCounts(filter, options),
        topValues('actor_id', filter, options),
        topValues('action', filter, options),
        topValues('resource_type', filter, options),
        failuresByAction(filter, options),
      ],
      options.timeoutMs,
    )) as [EpochBucketRow[], CountedValue[], CountedValue[], CountedValue[], FailureRow[]]
    return {
      ...summarizeBuckets(buckets.map((row) => ({ ...row, start: new Date(row.start).toISOString() }))),
      top_actors: actors,
      top_actions: actions,
      top_resource_types: resourceTypes,
      failures_by_action: groupFailures(failures),
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get()
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyEmbeddedError(error)
  }

  async close(): Promise<void> {
    await this.settings.reader.close()
    // Closing the last connection checkpoints the WAL back into auditq.db.
    this.db.close()
  }

  private select(filter: EventFilter, after: CursorPosition | undefined, limit: number): AuditRow[] {
    const { sql, params } = buildSelect(filter, after, limit)
    return this.statement<unknown[], AuditRow>(sql).all(...params)
  }

  private statement<Params extends unknown[], Row>(sql: string): SqliteStatement<Params, Row> {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement as unknown as SqliteStatement<Params, Row>
  }
}

/** A bucket row as SQLite returns it: the start in epoch milliseconds. */
type EpochBucketRow = Omit<BucketRow, 'start'> & { start: number }

export function classifyEmbeddedError(error: unknown): StoreErrorKind {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && TRANSIENT_CODES.some((prefix) => code.startsWith(prefix))) return 'transient'
  // A closed handle is a plain TypeError with no code (sqlite-driver.ts makes node:sqlite's the same).
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) return 'transient'
  // SQLITE_CONSTRAINT_*, SQLITE_MISMATCH, SQLITE_TOOBIG, a timestamp that does not parse, ...
  return 'data'
}
