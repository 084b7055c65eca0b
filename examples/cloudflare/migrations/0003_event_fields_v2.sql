-- auditq D1 migration 3: event_fields_v2. Generated from src/cloudflare/d1/schema.ts; do not edit.
CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;

ALTER TABLE audit_logs ADD COLUMN actor_name TEXT;

ALTER TABLE audit_logs ADD COLUMN targets TEXT CHECK (targets IS NULL OR json_valid(targets));

ALTER TABLE audit_logs ADD COLUMN changes TEXT CHECK (changes IS NULL OR json_valid(changes));

ALTER TABLE audit_logs ADD COLUMN producer_id TEXT;

ALTER TABLE audit_logs ADD COLUMN producer_seq INTEGER CHECK (producer_seq IS NULL OR producer_seq > 0);

ALTER TABLE audit_logs ADD COLUMN subject_index TEXT;

ALTER TABLE audit_logs ADD COLUMN sealed TEXT CHECK (sealed IS NULL OR json_valid(sealed));

CREATE INDEX IF NOT EXISTS audit_logs_producer_idx ON audit_logs (tenant_id, producer_id, producer_seq) WHERE producer_id IS NOT NULL;

INSERT INTO auditq_migrations (version, name, applied_at) VALUES (3, 'event_fields_v2', CAST(unixepoch('subsec') * 1000 AS INTEGER)) ON CONFLICT (version) DO NOTHING;
