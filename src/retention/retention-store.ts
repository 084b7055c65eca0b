import type { AuditEvent } from '../event/types.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import type { HoldMatch, RetentionCut } from '../integrity/types.js'
import type { RetentionRulesStore } from './retention-rules.js'

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
  /** Legal holds: rows any of them matches are never deleted (absent = none). */
  holds?: readonly HoldMatch[]
}

/**
 * What a retention run needs of the chain tables beyond reading them: a lock between processes,
 * counting, recording cuts and deleting in chunks. The stores implement it beside `IntegrityStore`.
 */
export interface RetentionStore extends IntegrityStore {
  /** Runs `fn` unless another process's retention run holds the lock; then returns `{ ran: false }`. */
  withRetentionLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>
  /** Counted per tenant; `tenant_id` limits it to one (a tenant with its own retention). */
  retentionCandidates(cutoff: string, keepActions: readonly string[], options?: { tenant_id?: string }): Promise<RetentionCandidates[]>
  hashAt(tenant_id: string, seq: number): Promise<string | null>
  saveCut(cut: RetentionCut): Promise<void>
  /**
   * Deletes, in one short transaction, a bounded chunk (about `limit` rows) of the rows the rule
   * covers with seq > afterSeq. `lastSeq` is where the next chunk starts after; `done` says no
   * chunk is left.
   */
  deleteChunk(rule: RetentionRule, afterSeq: number, limit: number): Promise<{ deleted: number; lastSeq: number; done: boolean }>
  /**
   * Present where the store can drop whole time partitions (PostgreSQL's partitioned layout).
   * `mark()` is taken before the run counts candidates; `apply` then removes, for the tenants it
   * is given, exactly the rows their rules delete among those committed before the mark, and
   * returns how many per tenant. Only for tenants whose cut the archive does not lower.
   */
  readonly partitionRetention?: {
    mark(): Promise<string>
    apply(
      plans: readonly { tenant_id: string; cutoff: string; keep_actions: readonly string[]; holds?: readonly HoldMatch[] | undefined }[],
      mark: string,
      chunkRows: number,
      log?: (message: string, fields: object) => void,
    ): Promise<Map<string, number>>
  }
}

/**
 * The store as retention uses it: its chain tables, and the event log where a run records itself.
 * `Store` satisfies it; retention names only this much so it never depends on the store folder.
 */
export interface RetentionTarget {
  readonly kind: 'postgres' | 'embedded'
  readonly integrity?: RetentionStore
  /** Legal holds and tenants' own retention; without it every tenant follows the run's rule. */
  readonly retentionRules?: Pick<RetentionRulesStore, 'listHolds' | 'listTenantRetention'>
  insertBatch(events: readonly AuditEvent[]): Promise<unknown>
}
