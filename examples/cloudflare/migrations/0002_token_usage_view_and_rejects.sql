-- auditq D1 migration 2: token_usage_view_and_rejects. Generated from src/cloudflare/d1/schema.ts; do not edit.
CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;

CREATE VIEW IF NOT EXISTS token_usage AS
  SELECT id,
         resource_id        AS token_id,
         actor_id           AS subject,
         action             AS event_type,
         client_id,
         ip_address,
         user_agent,
         occurred_at / 1000 AS timestamp,
         metadata
    FROM audit_logs
   WHERE resource_type = 'token';

CREATE TABLE IF NOT EXISTS audit_rejects (
  message_id   TEXT    NOT NULL PRIMARY KEY,
  queue        TEXT    NOT NULL,
  rejected_at  INTEGER NOT NULL,
  reason       TEXT    NOT NULL CHECK (reason IN ('malformed', 'invalid_event')),
  errors       TEXT    NOT NULL CHECK (json_valid(errors)),
  body         TEXT    NOT NULL
) STRICT;

INSERT INTO auditq_migrations (version, name, applied_at) VALUES (2, 'token_usage_view_and_rejects', CAST(unixepoch('subsec') * 1000 AS INTEGER)) ON CONFLICT (version) DO NOTHING;
