/**
 * Migration 30 for PostgreSQL: the event fields added with canonical form auditq.v2, and the
 * column recording which canonical form each row was hashed under. Pure text.
 *
 * `canonical_version` defaults to 1: every row stored before this migration was hashed under
 * auditq.v1, and PostgreSQL fills the existing rows from the default without rewriting the table.
 * Inserts from this version on write 2 explicitly (sql.ts, UNNEST_SOURCE), so the default keeps
 * meaning "written by a version that knew only auditq.v1".
 *
 * The index served the completeness check's gaps-and-islands scan per (tenant, producer); partial,
 * because events without a producer (imports, older producers) need no entry. Migration 92 drops
 * it: the check reads producer runs recorded per insert instead (producer-runs-sql.ts).
 */
export const EVENT_FIELDS_V2_MIGRATION = [
  `ALTER TABLE audit_logs
     ADD COLUMN actor_name        text,
     ADD COLUMN targets           jsonb,
     ADD COLUMN changes           jsonb,
     ADD COLUMN producer_id       text,
     ADD COLUMN producer_seq      bigint CHECK (producer_seq > 0),
     ADD COLUMN subject_index     text,
     ADD COLUMN sealed            jsonb,
     ADD COLUMN canonical_version smallint NOT NULL DEFAULT 1`,
  `CREATE INDEX audit_logs_producer_idx ON audit_logs (tenant_id, producer_id, producer_seq) WHERE producer_id IS NOT NULL`,
]
