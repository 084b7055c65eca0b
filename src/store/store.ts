import type { AuditEvent, Category } from '../event/types.js'
import type { ChainHead, ChainRow, Checkpoint, RetentionCut } from '../integrity/types.js'
import type { ReportData, ReportOptions } from '../report/model.js'

/**
 * Filters shared by query, export and reports. All conditions are ANDed.
 * `from` is inclusive and `to` exclusive, both on `occurred_at`.
 */
export interface EventFilter {
  tenant_id?: string
  actor_id?: string
  action?: string
  category?: Category
  resource_type?: string
  resource_id?: string
  success?: boolean
  from?: string
  to?: string
}

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
  /** Inserts all events in one transaction; idempotent on `id`. */
  insertBatch(events: readonly AuditEvent[]): Promise<InsertResult>
  /** Newest first, keyset-paginated. `limit` is trusted: callers bound it. */
  query(filter: EventFilter, page: PageRequest): Promise<Page>
  getById(id: string, filter?: Pick<EventFilter, 'tenant_id'>): Promise<AuditEvent | null>
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
  /** Hash chain, checkpoints and retention. Both real stores implement it. */
  readonly integrity?: IntegrityStore
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

export interface SnapshotOptions {
  /**
   * `verify`: a caller's read, run where reads run (PostgreSQL: the read pool, under the read
   * statement timeout). `maintenance` (default): checkpoints and retention, which must not wait
   * behind callers' reads.
   */
  purpose?: 'verify' | 'maintenance'
  /** Aborting stops the run: the statement running on the server is cancelled and the walk ends. */
  signal?: AbortSignal
}

/** One consistent, read-only view of the chain tables (see `IntegrityStore.snapshot`). */
export interface IntegritySnapshot {
  /** Every tenant with chained rows (not only those with a head row: that row could be gone). */
  tenants(): Promise<string[]>
  /**
   * Rows with no chain position (seq NULL), counted per tenant: no chained insert stores such a
   * row, so each one was written around the chain and verify reports it.
   */
  unchained(tenant_id?: string): Promise<Array<{ tenant_id: string; count: number }>>
  heads(tenant_id?: string): Promise<ChainHead[]>
  /** The latest retention cut per tenant. */
  cuts(tenant_id?: string): Promise<RetentionCut[]>
  /** Every stored checkpoint, oldest first (verify --checkpoints checks them all). */
  checkpoints(tenant_id?: string): Promise<Checkpoint[]>
  /** The newest checkpoint (highest id) per tenant, at most one each: all a new checkpoint needs. */
  latestCheckpoints(tenant_id?: string): Promise<Checkpoint[]>
  /** Per tenant chained before migration 6: the first seq hashed with chain format 2. */
  formatSwitches(tenant_id?: string): Promise<Map<string, number>>
  /** A tenant's chained rows in (seq, id) order, streamed in constant memory. */
  rows(tenant_id: string, range?: { fromSeq?: number; toSeq?: number }): AsyncIterable<ChainRow>
}

/** What a retention run would delete in one tenant: counted before anything is deleted. */
export interface RetentionCandidates {
  tenant_id: string
  count: number
  max_seq: number
}

export interface RetentionRule {
  tenant_id: string
  /** Only rows with seq <= this are touched: rows chained after the run began are never cut. */
  maxSeq: number
  cutoff: string
  keep_actions: readonly string[]
}

export interface IntegrityStore {
  /**
   * Runs `fn` against one snapshot: PostgreSQL REPEATABLE READ READ ONLY, SQLite one read
   * transaction on a connection of its own. Inserts continue meanwhile and are not seen.
   */
  snapshot<T>(fn: (snapshot: IntegritySnapshot) => Promise<T>, options?: SnapshotOptions): Promise<T>
  saveCheckpoints(checkpoints: readonly Checkpoint[]): Promise<void>
  /** Runs `fn` unless another process's retention run holds the lock; then returns `{ ran: false }`. */
  withRetentionLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>
  retentionCandidates(cutoff: string, keepActions: readonly string[]): Promise<RetentionCandidates[]>
  hashAt(tenant_id: string, seq: number): Promise<string | null>
  saveCut(cut: RetentionCut): Promise<void>
  /**
   * Deletes, in one short transaction, a bounded chunk (about `limit` rows) of the rows the rule
   * covers with seq > afterSeq. `lastSeq` is where the next chunk starts after; `done` says no
   * chunk is left.
   */
  deleteChunk(rule: RetentionRule, afterSeq: number, limit: number): Promise<{ deleted: number; lastSeq: number; done: boolean }>
}
