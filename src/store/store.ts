import type { KeyStore } from '../auth/key-store.js'
import type { FeedSource } from '../feed/feed-event.js'
import type { AuditEvent } from '../event/types.js'
import type { PreparedEvent } from '../integrity/prepared-event.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import type { CompletenessSource } from '../completeness/source.js'
import type { EventFilter } from '../query/event-filter.js'
import type { ReportData, ReportOptions } from '../report/model.js'
import type { RetentionStore } from '../retention/retention-store.js'
import type { SubjectKeyStore } from '../shred/subject-keys.js'
import type { RetentionRulesStore } from '../retention/retention-rules.js'
import type { StreamStore } from '../stream/stream-store.js'
import type { SearchBackfillSource } from '../query/search/backfill.js'

/** Keyset position: the last row a page returned. Order is (occurred_at DESC, id DESC). */
export interface CursorPosition {
  occurred_at: string
  id: string
}

export interface PageRequest {
  limit: number
  after?: CursorPosition
}

export interface Page {
  events: AuditEvent[]
  /** Present when more rows may follow; absent on the last page. */
  next?: CursorPosition
}

/**
 * Where a read may be answered. `replica-ok` (the default) lets a PostgreSQL store with a read
 * replica answer from it, at most its documented staleness behind; `primary` is for a caller that
 * must see its own writes. Stores without a replica answer both the same way.
 */
export interface ReadOptions {
  consistency?: 'replica-ok' | 'primary'
}

export type ReplicaUnusableReason = 'not_probed' | 'unreachable' | 'not_a_standby' | 'too_far_behind' | 'read_failed'

export interface ReadReplicaStatus {
  /** Reads are currently sent to the replica. */
  inUse: boolean
  /** Why they are not, when they are not. */
  reason: ReplicaUnusableReason | null
  /** Upper bound on how stale the replica was at the last probe; null before a successful probe. */
  lagSeconds: number | null
  /** WAL bytes the replica had still to replay at the last probe. */
  lagBytes: number | null
  /** Reads sent to the primary because the replica was unusable or a read on it failed. */
  fallbacks: number
  /** The last probe's or failed read's error message, if any. */
  lastError: string | null
  maxLagSeconds: number
}

export interface InsertResult {
  /** Rows written by this call. */
  inserted: number
  /** Events whose id was already stored; idempotency made them no-ops. */
  duplicates: number
}

/**
 * How a failed write should be handled by callers (group commit, later the queue worker):
 * `transient` — the store could not be reached or was busy; the same batch may succeed later.
 * `data` — the store refused the content; retrying as-is cannot help, so split the batch to isolate it.
 */
export type StoreErrorKind = 'transient' | 'data'

export interface MigrationReport {
  applied: string[]
  current: number
}

export interface Store {
  readonly kind: 'postgres' | 'embedded'
  /** Human-readable location without secrets (host/db or file path), for logs and health output. */
  readonly description: string
  /** Creates or upgrades the schema. Safe to call from several processes at once. */
  migrate(): Promise<MigrationReport>
  /**
   * Whether concurrent `insertBatch` calls run at once (PostgreSQL: each on its own connection).
   * False for a store that writes on the caller's thread, where a second commit in flight only
   * splits a batch into two transactions.
   */
  readonly parallelWrites: boolean
  /** Inserts all events in one transaction; idempotent on `id`. */
  insertBatch(events: readonly AuditEvent[]): Promise<InsertResult>
  /**
   * The same for events prepared at the edge (canonical form, digest, search document), without
   * rebuilding them in Node. PostgreSQL implements it; callers fall back to `insertBatch`.
   */
  insertPrepared?(events: readonly PreparedEvent[]): Promise<InsertResult>
  /** Newest first, keyset-paginated. `limit` is trusted: callers bound it. */
  query(filter: EventFilter, page: PageRequest, options?: ReadOptions): Promise<Page>
  /** With a replica, an id it has not replayed yet is looked up on the primary before saying null. */
  getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>, options?: ReadOptions): Promise<AuditEvent | null>
  /** Every matching event, newest first, in constant memory (for export). */
  stream(filter: EventFilter): AsyncIterable<AuditEvent>
  /**
   * The aggregates of a report over every event matching `filter`, all read from one consistent
   * snapshot while writes go on (PostgreSQL: one REPEATABLE READ READ ONLY transaction; SQLite:
   * one read transaction). `options` is trusted: callers bound it.
   */
  report(filter: EventFilter, options: ReportOptions): Promise<ReportData>
  /** Throws when the store cannot answer a trivial query. */
  ping(): Promise<void>
  classifyError(error: unknown): StoreErrorKind
  close(): Promise<void>
  /**
   * API keys, in the same database and schema as the events (migration 10 creates the table).
   * Closed with the store: it shares the store's connections (see each adapter).
   */
  readonly keys: KeyStore
  /** Legal holds and per-tenant retention (migration 70). Both real stores implement it. */
  readonly retentionRules?: RetentionRulesStore
  /** Hash chain, checkpoints and retention. Both real stores implement it. */
  readonly integrity?: IntegrityStore & RetentionStore
  /** PostgreSQL with a read URL: whether reads use the replica and how far behind it is. */
  readReplicaStatus?(): ReadReplicaStatus | undefined
  /** PostgreSQL's partitioned layout as of its last maintenance round; undefined in the plain layout. */
  partitionStatus?(): { partitions: number; coveredUntil: string | null; defaultRows: number } | undefined
  /** Wrapped per-subject data keys for crypto-shredding (migration 45). Both real stores implement it. */
  readonly subjectKeys?: SubjectKeyStore
  /** Producer sequence completeness (both stores; a test double may leave it out). */
  readonly completeness?: CompletenessSource
  /** Stored events in store order, each exactly once (docs/feed.md). Both real stores implement it. */
  readonly feed?: FeedSource
  /** Stream definitions, positions and leases (migration 60). Both real stores implement it. */
  readonly streams?: StreamStore
  /** Search documents for events stored before word search (migrations 87–88). Both real stores implement it. */
  readonly searchBackfill?: SearchBackfillSource
  /** How this process's chained inserts went, for metrics; stores with nothing to tell omit it. */
  chainWriteStats?(): ChainWriteStats
}

/**
 * PostgreSQL: batches that arrived with their links computed in this process (an offer, made
 * when it believes it wrote the tenants' heads last), and how many the server took. A refused
 * offer means another process moved a head meanwhile: the server then links under the head lock.
 */
export interface ChainWriteStats {
  linkOffers: number
  linkOffersTaken: number
}
