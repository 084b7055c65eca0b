import type { MerkleStore } from './merkle-store.js'
import type { ChainHead, ChainRow, Checkpoint, RetentionCut } from './types.js'

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
  /** One event's chain position, null when it has none or does not exist (the viewer's per-event check). */
  seqOf?(tenant_id: string, id: string): Promise<number | null>
  /** A tenant's chained rows in (seq, id) order, streamed in constant memory. */
  rows(tenant_id: string, range?: { fromSeq?: number; toSeq?: number }): AsyncIterable<ChainRow>
}

export interface IntegrityStore {
  /**
   * Runs `fn` against one snapshot: PostgreSQL REPEATABLE READ READ ONLY, SQLite one read
   * transaction on a connection of its own. Inserts continue meanwhile and are not seen.
   */
  snapshot<T>(fn: (snapshot: IntegritySnapshot) => Promise<T>, options?: SnapshotOptions): Promise<T>
  saveCheckpoints(checkpoints: readonly Checkpoint[]): Promise<void>
  /** The Merkle tree over each chain (migration 40); checkpoints sign its size and root. */
  readonly merkle?: MerkleStore
}
