import { AuditqError } from '../errors.js'
import type { MigrationReport } from './store.js'

/**
 * The one ordered list of schema changes. Each store supplies the SQL for every step in its own
 * dialect; `runMigrations` refuses to start if a dialect is missing a step, so the two stores can
 * never drift apart silently.
 */
export const MIGRATION_PLAN = [
  { version: 1, name: 'create_audit_logs' },
  { version: 2, name: 'hash_chain' },
  { version: 3, name: 'append_only_guard' },
  { version: 4, name: 'tenant_scoped_ids' },
  { version: 5, name: 'checkpoints_by_tenant' },
  { version: 6, name: 'chain_format_2' },
  { version: 7, name: 'chain_links' },
  { version: 10, name: 'create_api_keys' },
  { version: 20, name: 'report_bucket_statistics' },
  { version: 30, name: 'event_fields_v2' },
  { version: 31, name: 'producer_sequence_index' },
  { version: 35, name: 'feed_order' },
  { version: 40, name: 'merkle_tree' },
  { version: 45, name: 'subject_keys' },
  { version: 46, name: 'subject_index_lookup' },
  { version: 50, name: 'word_search' },
  { version: 60, name: 'create_streams' },
  { version: 61, name: 'stream_tenant_positions' },
  { version: 70, name: 'legal_holds_and_tenant_retention' },
  { version: 80, name: 'partitioned_id_guard' },
  { version: 81, name: 'link_rows_occurred_at' },
  { version: 87, name: 'search_fill_only_guard' },
  { version: 88, name: 'search_backfill_position' },
  { version: 90, name: 'partial_chain_seq_index' },
  { version: 91, name: 'merkle_positions_on_demand' },
  { version: 92, name: 'producer_runs' },
] as const

export type MigrationSql = Readonly<Record<number, readonly string[]>>

/** What a store must offer the runner: a cross-process lock, the applied versions, and atomic apply. */
export interface MigrationTarget {
  /** Runs `fn` while holding a lock no other migrating process can hold at the same time. */
  withLock<T>(fn: () => Promise<T>): Promise<T>
  appliedVersions(): Promise<number[]>
  /** Runs the statements and records the version in one transaction. */
  apply(version: number, name: string, statements: readonly string[]): Promise<void>
}

export async function runMigrations(target: MigrationTarget, sql: MigrationSql): Promise<MigrationReport> {
  for (const step of MIGRATION_PLAN) {
    if (!sql[step.version]) {
      throw new AuditqError('AUDITQ_CONFIG', `migration ${step.version} (${step.name}) has no SQL for this store`)
    }
  }
  return target.withLock(async () => {
    const applied = new Set(await target.appliedVersions())
    const newlyApplied: string[] = []
    for (const step of MIGRATION_PLAN) {
      if (applied.has(step.version)) continue
      await target.apply(step.version, step.name, sql[step.version] ?? [])
      newlyApplied.push(`${step.version}_${step.name}`)
    }
    const current = Math.max(0, ...MIGRATION_PLAN.map((step) => step.version))
    return { applied: newlyApplied, current }
  })
}
