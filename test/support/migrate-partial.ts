import { MIGRATION_PLAN, type MigrationSql, type MigrationTarget } from '../../src/store/migrate.js'
import type { AuditEvent } from '../../src/event/types.js'
import { storedEvent } from './events.js'

/**
 * Applies every step of the plan except `skipped`, as a database deployed before that step landed
 * looks (steps with higher numbers may well be applied already). For upgrade tests.
 */
export async function migrateAllBut(target: MigrationTarget, sql: MigrationSql, skipped: number): Promise<void> {
  await target.withLock(async () => {
    await target.appliedVersions()
    for (const step of MIGRATION_PLAN) {
      if (step.version !== skipped) await target.apply(step.version, step.name, sql[step.version] ?? [])
    }
  })
}

/** Rows an upgrade must keep: three tenants, ties on occurred_at, awkward values. */
export function preUpgradeEvents(): AuditEvent[] {
  return Array.from({ length: 30 }, (_, i) =>
    storedEvent({
      tenant_id: ['acme', 'globex', 'initech'][i % 3]!,
      occurred_at: new Date(Date.parse('2026-06-01T12:00:00.000Z') + Math.floor(i / 4) * 1000).toISOString(),
      description: i % 5 === 0 ? 'Ünïcödé "quoted"\n' : null,
      metadata: i % 2 === 0 ? { n: i, nested: { ok: true } } : {},
    }),
  )
}

/** The pre-fix conflict target, for writing rows the way a store at migration 3 did. */
export function withPreFixConflictTarget(sql: string): string {
  const old = sql.replace('ON CONFLICT (tenant_id, id)', 'ON CONFLICT (id)')
  if (old === sql) throw new Error('statement has no (tenant_id, id) conflict target to turn back')
  return old
}
