import type pg from 'pg'
import type { LegalHold, RetentionRulesStore, TenantRetention } from '../../retention/retention-rules.js'

interface HoldRow extends Omit<LegalHold, 'created_at' | 'released_at'> {
  created_at: Date
  released_at: Date | null
}

const HOLD_COLUMNS = 'id, tenant_id, actor_id, resource_type, resource_id, reason, created_at, created_by, released_at, released_by'

const toHold = (row: HoldRow): LegalHold => ({
  ...row,
  created_at: row.created_at.toISOString(),
  released_at: row.released_at === null ? null : row.released_at.toISOString(),
})

/** Legal holds and per-tenant retention in PostgreSQL (migration 70), over the store's write pool: rare, single-row statements. */
export class PostgresRetentionRules implements RetentionRulesStore {
  constructor(private readonly pool: pg.Pool) {}

  async createHold(hold: LegalHold): Promise<void> {
    await this.pool.query(`INSERT INTO auditq_legal_holds (${HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
      hold.id,
      hold.tenant_id,
      hold.actor_id,
      hold.resource_type,
      hold.resource_id,
      hold.reason,
      hold.created_at,
      hold.created_by,
      hold.released_at,
      hold.released_by,
    ])
  }

  async listHolds(options: { tenant_id?: string; includeReleased?: boolean } = {}): Promise<LegalHold[]> {
    const { rows } = await this.pool.query<HoldRow>(
      `SELECT ${HOLD_COLUMNS} FROM auditq_legal_holds
       WHERE ($1::text IS NULL OR tenant_id = $1::text) AND ($2::boolean OR released_at IS NULL) ORDER BY created_at, id`,
      [options.tenant_id ?? null, options.includeReleased ?? false],
    )
    return rows.map(toHold)
  }

  async releaseHold(id: string, release: { released_at: string; released_by: string }): Promise<LegalHold | null> {
    await this.pool.query('UPDATE auditq_legal_holds SET released_at = $1, released_by = $2 WHERE id = $3 AND released_at IS NULL', [
      release.released_at,
      release.released_by,
      id,
    ])
    const { rows } = await this.pool.query<HoldRow>(`SELECT ${HOLD_COLUMNS} FROM auditq_legal_holds WHERE id = $1`, [id])
    return rows[0] ? toHold(rows[0]) : null
  }

  async setTenantRetention(rule: TenantRetention): Promise<void> {
    await this.pool.query(
      `INSERT INTO auditq_tenant_retention (tenant_id, days, keep_actions, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET days = excluded.days, keep_actions = excluded.keep_actions, updated_at = excluded.updated_at`,
      [rule.tenant_id, rule.days, rule.keep_actions, rule.updated_at],
    )
  }

  async clearTenantRetention(tenant_id: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM auditq_tenant_retention WHERE tenant_id = $1', [tenant_id])
    return (result.rowCount ?? 0) > 0
  }

  async listTenantRetention(): Promise<TenantRetention[]> {
    const { rows } = await this.pool.query<{ tenant_id: string; days: number; keep_actions: string[]; updated_at: Date }>(
      'SELECT tenant_id, days, keep_actions, updated_at FROM auditq_tenant_retention ORDER BY tenant_id',
    )
    return rows.map((row) => ({ ...row, updated_at: row.updated_at.toISOString() }))
  }
}
