/**
 * Migration 30 for the embedded store (PostgreSQL's event-fields-sql.ts in SQLite's types): the
 * fields added with canonical form auditq.v2, as TEXT (JSON text for targets, changes and sealed)
 * and INTEGER, and `canonical_version`, which is 1 for every row stored before (the default) and
 * written as 2 by inserts from this version on (sql.ts, INSERT_VALUES).
 * ADD COLUMN keeps the table STRICT and touches no existing row, so it is instant at any size.
 */
export const EVENT_FIELDS_V2_MIGRATION = [
  'ALTER TABLE audit_logs ADD COLUMN actor_name TEXT',
  "ALTER TABLE audit_logs ADD COLUMN targets TEXT CHECK (targets IS NULL OR json_valid(targets))",
  "ALTER TABLE audit_logs ADD COLUMN changes TEXT CHECK (changes IS NULL OR json_valid(changes))",
  'ALTER TABLE audit_logs ADD COLUMN producer_id TEXT',
  'ALTER TABLE audit_logs ADD COLUMN producer_seq INTEGER CHECK (producer_seq IS NULL OR producer_seq > 0)',
  'ALTER TABLE audit_logs ADD COLUMN subject_index TEXT',
  "ALTER TABLE audit_logs ADD COLUMN sealed TEXT CHECK (sealed IS NULL OR json_valid(sealed))",
  'ALTER TABLE audit_logs ADD COLUMN canonical_version INTEGER NOT NULL DEFAULT 1',
  'CREATE INDEX audit_logs_producer_idx ON audit_logs (tenant_id, producer_id, producer_seq) WHERE producer_id IS NOT NULL',
]
