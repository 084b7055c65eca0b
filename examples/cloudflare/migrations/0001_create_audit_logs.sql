-- auditq D1 migration 1: create_audit_logs. Generated from src/cloudflare/d1/schema.ts; do not edit.
CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS audit_logs (
      id            TEXT    NOT NULL PRIMARY KEY,
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
      metadata      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
    ) STRICT;

CREATE INDEX IF NOT EXISTS audit_logs_occurred_at_idx ON audit_logs (occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_tenant_idx ON audit_logs (tenant_id, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_actor_idx ON audit_logs (actor_id, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_action_idx ON audit_logs (action, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_resource_idx ON audit_logs (resource_type, resource_id, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_category_idx ON audit_logs (category, occurred_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS audit_logs_failed_idx ON audit_logs (occurred_at DESC, id DESC) WHERE success = 0;

INSERT INTO auditq_migrations (version, name, applied_at) VALUES (1, 'create_audit_logs', CAST(unixepoch('subsec') * 1000 AS INTEGER)) ON CONFLICT (version) DO NOTHING;
