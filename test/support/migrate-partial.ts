import { MIGRATION_PLAN, type MigrationSql, type MigrationTarget } from '../../src/store/migrate.js'
import type { AuditEvent } from '../../src/event/types.js'
import { EVENT_FIELDS } from '../../src/event/types.js'
import { COLUMN_TYPES, COLUMNS } from '../../src/store/postgres/sql.js'
import { storedEvent } from './events.js'

/**
 * Applies every step of the plan except `skipped`, as a database deployed before that step landed
 * looks (steps with higher numbers may well be applied already). For upgrade tests.
 */
export async function migrateAllBut(target: MigrationTarget, sql: MigrationSql, skipped: number | readonly number[]): Promise<void> {
  const skip = new Set(typeof skipped === 'number' ? [skipped] : skipped)
  await target.withLock(async () => {
    await target.appliedVersions()
    for (const step of MIGRATION_PLAN) {
      if (!skip.has(step.version)) await target.apply(step.version, step.name, sql[step.version] ?? [])
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

/**
 * The chained insert as the PostgreSQL store sent it before migration 6 (chain format 1: the
 * server hashed each event's canonical text with `auditq_chain`, which migration 6 drops).
 * Parameters: the unnest columns, the canonical forms, the genesis hash.
 */
export const PG_FORMAT_1_INSERT_CHAINED_SQL = `WITH chained AS (
    SELECT * FROM auditq_chain($2::text[], $${EVENT_FIELDS.length + 1}::text[], $${EVENT_FIELDS.length + 2}::text)
  ), inserted AS (
    INSERT INTO audit_logs (${COLUMNS}, seq, prev_hash, hash)
    SELECT ${EVENT_FIELDS.map((field) => `u.${field}`).join(', ')}, c.o_seq, c.o_prev, c.o_hash
    FROM unnest(${EVENT_FIELDS.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')}) WITH ORDINALITY AS u(${COLUMNS}, ord)
    JOIN chained c ON c.o_ord = u.ord
    ON CONFLICT (tenant_id, id) DO NOTHING
    RETURNING 1
  )
  SELECT auditq_require_all((SELECT count(*) FROM inserted), cardinality($1::uuid[])) AS inserted`
