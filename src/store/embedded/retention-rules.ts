import type { LegalHold, RetentionRulesStore, TenantRetention } from '../../retention/retention-rules.js'
import type { SqliteDatabase } from './sqlite-driver.js'

interface HoldRow extends Omit<LegalHold, 'created_at' | 'released_at'> {
  created_at: number
  released_at: number | null
}
interface TenantRetentionRow {
  tenant_id: string
  days: number
  keep_actions: string
  updated_at: number
}

const HOLD_COLUMNS = 'id, tenant_id, actor_id, resource_type, resource_id, reason, created_at, created_by, released_at, released_by'

const toHold = (row: HoldRow): LegalHold => ({
  ...row,
  created_at: new Date(row.created_at).toISOString(),
  released_at: row.released_at === null ? null : new Date(row.released_at).toISOString(),
})

/** Legal holds and per-tenant retention in the embedded store's file (migration 70), on the store's connection. */
export class EmbeddedRetentionRules implements RetentionRulesStore {
  constructor(private readonly db: SqliteDatabase) {}

  async createHold(hold: LegalHold): Promise<void> {
    this.db
      .prepare(`INSERT INTO auditq_legal_holds (${HOLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        hold.id,
        hold.tenant_id,
        hold.actor_id,
        hold.resource_type,
        hold.resource_id,
        hold.reason,
        Date.parse(hold.created_at),
        hold.created_by,
        hold.released_at === null ? null : Date.parse(hold.released_at),
        hold.released_by,
      )
  }

  async listHolds(options: { tenant_id?: string; includeReleased?: boolean } = {}): Promise<LegalHold[]> {
    const tenant = options.tenant_id ?? null
    return this.db
      .prepare<[string | null, string | null, number], HoldRow>(
        `SELECT ${HOLD_COLUMNS} FROM auditq_legal_holds
         WHERE (? IS NULL OR tenant_id = ?) AND (? = 1 OR released_at IS NULL) ORDER BY created_at, id`,
      )
      .all(tenant, tenant, options.includeReleased ? 1 : 0)
      .map(toHold)
  }

  async releaseHold(id: string, release: { released_at: string; released_by: string }): Promise<LegalHold | null> {
    this.db
      .prepare('UPDATE auditq_legal_holds SET released_at = ?, released_by = ? WHERE id = ? AND released_at IS NULL')
      .run(Date.parse(release.released_at), release.released_by, id)
    const row = this.db.prepare<[string], HoldRow>(`SELECT ${HOLD_COLUMNS} FROM auditq_legal_holds WHERE id = ?`).get(id)
    return row ? toHold(row) : null
  }

  async setTenantRetention(rule: TenantRetention): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO auditq_tenant_retention (tenant_id, days, keep_actions, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant_id) DO UPDATE SET days = excluded.days, keep_actions = excluded.keep_actions, updated_at = excluded.updated_at`,
      )
      .run(rule.tenant_id, rule.days, JSON.stringify(rule.keep_actions), Date.parse(rule.updated_at))
  }

  async clearTenantRetention(tenant_id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM auditq_tenant_retention WHERE tenant_id = ?').run(tenant_id).changes > 0
  }

  async listTenantRetention(): Promise<TenantRetention[]> {
    return this.db
      .prepare<[], TenantRetentionRow>('SELECT tenant_id, days, keep_actions, updated_at FROM auditq_tenant_retention ORDER BY tenant_id')
      .all()
      .map((row) => ({ ...row, keep_actions: JSON.parse(row.keep_actions) as string[], updated_at: new Date(row.updated_at).toISOString() }))
  }
}
