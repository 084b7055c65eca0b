/**
 * D1's schema. D1 is SQLite, so version 1 *is* the embedded store's version 1 (the same
 * statements, imported, not copied): the same `audit_logs` table, types and indexes, so the same
 * row mapping and query builder (`store/embedded/sql.ts`) serve both. D1 numbers its own
 * versions; the embedded store's later steps (hash chaining) are not applied here.
 *
 * Every statement is made idempotent (`IF NOT EXISTS`), so `migrateD1()` from a Worker and
 * `wrangler d1 migrations apply` with the generated files in examples/cloudflare/migrations can be
 * used in either order, and two Workers migrating at once cannot fail each other.
 */
import { EMBEDDED_MIGRATIONS } from '../../store/embedded/migrations.js'
import { EVENT_FIELDS_V2_MIGRATION } from '../../store/embedded/event-fields-sql.js'
import type { D1Database } from '../bindings.js'

/**
 * The legacy OpenAuth audit service's `token_usage` table, as a read-only view over `audit_logs`, so
 * its existing queries keep working. Events of its token-usage shape (`token_id` → resource_type
 * `token`) appear with its column names; `timestamp` is epoch seconds as that table stored it. Differences: `id` is the event's UUID (TEXT), not an
 * autoincrement integer — an integer would number a redelivered message twice — and the view
 * cannot be written to: write through `AuditService` or the queue.
 */
const TOKEN_USAGE_VIEW = `CREATE VIEW token_usage AS
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
   WHERE resource_type = 'token'`

/**
 * Queue messages the consumer could not turn into an event (not an envelope, or an event that
 * fails validation). Retrying cannot change their content, so they are acknowledged *after* they
 * are recorded here, with the reasons and the body as received. Keyed by the queue's message id,
 * so a redelivered reject is recorded once.
 */
const AUDIT_REJECTS_TABLE = `CREATE TABLE audit_rejects (
  message_id   TEXT    NOT NULL PRIMARY KEY,
  queue        TEXT    NOT NULL,
  rejected_at  INTEGER NOT NULL,
  reason       TEXT    NOT NULL CHECK (reason IN ('malformed', 'invalid_event')),
  errors       TEXT    NOT NULL CHECK (json_valid(errors)),
  body         TEXT    NOT NULL
) STRICT`

function idempotent(statement: string): string {
  return statement.replace(/^(\s*CREATE (?:TABLE|INDEX|VIEW)) /, '$1 IF NOT EXISTS ')
}

export interface D1Migration {
  version: number
  name: string
  statements: readonly string[]
}

/**
 * The event fields added with canonical form auditq.v2: the embedded store's migration 30 without
 * `canonical_version` (D1 keeps no hash chain). The one version that is not idempotent: SQLite
 * has no `ADD COLUMN IF NOT EXISTS`. Run over a database that already has the columns it fails
 * with "duplicate column name" and changes nothing (the file is one transaction), so applying it
 * by both paths is refused loudly, never half-done; apply a database's migrations by one path.
 */
const EVENT_FIELDS_V2_STATEMENTS = EVENT_FIELDS_V2_MIGRATION.filter((statement) => !statement.includes('canonical_version'))

export const D1_MIGRATIONS: readonly D1Migration[] = [
  { version: 1, name: 'create_audit_logs', statements: (EMBEDDED_MIGRATIONS[1] ?? []).map(idempotent) },
  { version: 2, name: 'token_usage_view_and_rejects', statements: [TOKEN_USAGE_VIEW, AUDIT_REJECTS_TABLE].map(idempotent) },
  { version: 3, name: 'event_fields_v2', statements: EVENT_FIELDS_V2_STATEMENTS.map(idempotent) },
]

const BOOKKEEPING_SQL = `CREATE TABLE IF NOT EXISTS auditq_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`

/** One file per version for `wrangler d1 migrations apply` (what examples/cloudflare/migrations holds). */
export function migrationFileText(migration: D1Migration): string {
  const record = `INSERT INTO auditq_migrations (version, name, applied_at) VALUES (${migration.version}, '${migration.name}', CAST(unixepoch('subsec') * 1000 AS INTEGER)) ON CONFLICT (version) DO NOTHING`
  const body = [BOOKKEEPING_SQL, ...migration.statements, record].map((statement) => `${statement};\n`).join('\n')
  return `-- auditq D1 migration ${migration.version}: ${migration.name}. Generated from src/cloudflare/d1/schema.ts; do not edit.\n${body}`
}

export interface D1MigrationReport {
  applied: number[]
  current: number
}

/**
 * Applies the versions this database lacks, each in one `batch` (one transaction: its statements
 * and its bookkeeping row commit together or not at all).
 */
export async function migrateD1(db: D1Database): Promise<D1MigrationReport> {
  await db.prepare(BOOKKEEPING_SQL).run()
  const { results } = await db.prepare('SELECT version FROM auditq_migrations').all<{ version: number }>()
  const done = new Set(results.map((row) => row.version))
  const applied: number[] = []
  for (const migration of D1_MIGRATIONS) {
    if (done.has(migration.version)) continue
    await db.batch([
      ...migration.statements.map((statement) => db.prepare(statement)),
      db
        .prepare('INSERT INTO auditq_migrations (version, name, applied_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING')
        .bind(migration.version, migration.name, Date.now()),
    ])
    applied.push(migration.version)
  }
  return { applied, current: D1_MIGRATIONS.at(-1)?.version ?? 0 }
}
