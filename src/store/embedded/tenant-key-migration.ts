/**
 * Migration 4 for the embedded store: ids become unique per tenant, the primary key
 * (tenant_id, id) instead of id alone. With the key on id, one tenant's event made another
 * tenant's event with the same id a silent "duplicate" (202, nothing stored), and told the second
 * tenant that the id existed elsewhere.
 *
 * SQLite cannot change a table's primary key, so the table is rebuilt the documented way
 * (https://www.sqlite.org/lang_altertable.html#otheralter): new table, copy, drop, rename, then
 * every index and trigger audit_logs had. It runs inside the migration's transaction, so a
 * failure leaves the old table as it was. The append-only triggers are dropped first (and
 * recreated last): DROP TABLE would remove them anyway before its implicit delete, but saying so
 * keeps the step readable, and no UPDATE or DELETE of an event happens in between — the rows are
 * copied, never changed.
 *
 * Same STRICT rowid table as migration 1 (not WITHOUT ROWID), columns in the order migrations 1
 * and 2 left them; rowids are copied too, so the physical order is kept.
 */
import { EVENT_FIELDS_V1 } from '../../event/types.js'
import { AUDIT_LOGS_GUARD_TRIGGERS, CHAIN_INDEX } from './chain-sql.js'

const COPIED_COLUMNS = ['rowid', ...EVENT_FIELDS_V1, 'seq', 'prev_hash', 'hash'].join(', ')

export function tenantScopedIdsMigration(auditLogsIndexes: readonly string[]): string[] {
  return [
    'DROP TRIGGER audit_logs_no_update',
    'DROP TRIGGER audit_logs_no_delete',
    `CREATE TABLE audit_logs_v4 (
      id            TEXT    NOT NULL,
      tenant_id     TEXT    NOT NULL,
      occurred_at   INTEGER NOT NULL,
      received_at   INTEGER NOT NULL,
      action        TEXT    NOT NULL,
      category      TEXT    NOT NULL CHECK (category IN ('info', 'warning', 'critical')),
      actor_id      TEXT,
      actor_type    TEXT,
      resource_type TEXT,
      resource_id   TEXT,
      success       INTEGER NOT NULL CHECK (success IN (0, 1)),
      error_message TEXT,
      description   TEXT,
      ip_address    TEXT,
      user_agent    TEXT,
      session_id    TEXT,
      request_id    TEXT,
      client_id     TEXT,
      metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
      seq           INTEGER,
      prev_hash     TEXT,
      hash          TEXT,
      PRIMARY KEY (tenant_id, id)
    ) STRICT`,
    `INSERT INTO audit_logs_v4 (${COPIED_COLUMNS}) SELECT ${COPIED_COLUMNS} FROM audit_logs`,
    'DROP TABLE audit_logs',
    'ALTER TABLE audit_logs_v4 RENAME TO audit_logs',
    ...auditLogsIndexes,
    CHAIN_INDEX,
    // getById without a tenant (open mode) looks up by id alone, and no other index leads with id.
    'CREATE INDEX audit_logs_id_idx ON audit_logs (id)',
    ...AUDIT_LOGS_GUARD_TRIGGERS,
  ]
}
