// The two embedded-store candidates behind one tiny interface, with the same logical schema and
// indexes, so throughput, crash and multi-process runs compare drivers rather than schemas.
// Plain JS on purpose: PGlite is not a project dependency, so these files stay out of `tsc`.
import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)

/** PGlite lives in a scratch prefix (see README.md), never in the project's package.json. */
async function loadPGlite() {
  const prefix = process.env.PGLITE_PREFIX ?? '/tmp/auditq-eval-deps'
  const entry = require.resolve('@electric-sql/pglite', { paths: [prefix] })
  return (await import(pathToFileURL(entry).href)).PGlite
}

const ACTIONS = ['user.login', 'user.logout', 'api_key.created', 'document.viewed', 'role.granted', 'export.started']
const AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'

/** An audit row of realistic size (~600 bytes): ids, an IP, a user agent, a small metadata object. */
export function auditRow(i) {
  const now = Date.now()
  return {
    id: randomUUID(),
    tenant_id: `tenant-${i % 7}`,
    occurred_at: now - (i % 1000),
    received_at: now,
    action: ACTIONS[i % ACTIONS.length],
    category: i % 50 === 0 ? 'critical' : i % 10 === 0 ? 'warning' : 'info',
    actor_id: `user-${i % 997}`,
    actor_type: 'user',
    resource_type: 'document',
    resource_id: `doc-${i % 5003}`,
    success: i % 20 === 0 ? 0 : 1,
    error_message: i % 20 === 0 ? 'permission denied' : null,
    description: 'Viewed the quarterly report from the dashboard',
    ip_address: `10.${i % 256}.${(i >> 8) % 256}.${i % 200}`,
    user_agent: AGENT,
    session_id: `sess-${i % 4099}`,
    request_id: randomUUID(),
    client_id: 'web',
    metadata: JSON.stringify({ path: `/reports/${i % 97}`, method: 'GET', status: 200, durationMs: i % 300, tags: ['q3', 'finance'] }),
  }
}

const FIELDS = Object.keys(auditRow(0))

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_logs (
  id TEXT NOT NULL PRIMARY KEY, tenant_id TEXT NOT NULL, occurred_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
  action TEXT NOT NULL, category TEXT NOT NULL CHECK (category IN ('info','warning','critical')),
  actor_id TEXT, actor_type TEXT, resource_type TEXT, resource_id TEXT, success INTEGER NOT NULL CHECK (success IN (0,1)),
  error_message TEXT, description TEXT, ip_address TEXT, user_agent TEXT, session_id TEXT, request_id TEXT, client_id TEXT,
  metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
) STRICT;
CREATE INDEX IF NOT EXISTS a_occ ON audit_logs (occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_tenant ON audit_logs (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_actor ON audit_logs (actor_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_action ON audit_logs (action, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_resource ON audit_logs (resource_type, resource_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_category ON audit_logs (category, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_failed ON audit_logs (occurred_at DESC, id DESC) WHERE success = 0;
`

const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_logs (
  id uuid PRIMARY KEY, tenant_id text NOT NULL, occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL,
  action text NOT NULL, category text NOT NULL CHECK (category IN ('info','warning','critical')),
  actor_id text, actor_type text, resource_type text, resource_id text, success boolean NOT NULL,
  error_message text, description text, ip_address inet, user_agent text, session_id text, request_id text, client_id text,
  metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS a_occ ON audit_logs (occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_tenant ON audit_logs (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_actor ON audit_logs (actor_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_action ON audit_logs (action, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_resource ON audit_logs (resource_type, resource_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_category ON audit_logs (category, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS a_failed ON audit_logs (occurred_at DESC, id DESC) WHERE NOT success;
`

async function openSqlite(dir) {
  const Database = require('better-sqlite3')
  mkdirSync(dir, { recursive: true })
  const db = new Database(path.join(dir, 'auditq.db'), { timeout: 5000 })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(SQLITE_SCHEMA)
  const insert = db.prepare(
    `INSERT INTO audit_logs (${FIELDS.join(',')}) VALUES (${FIELDS.map((f) => '@' + f).join(',')}) ON CONFLICT (id) DO NOTHING`,
  )
  const insertMany = db.transaction((rows) => {
    let n = 0
    for (const row of rows) n += insert.run(row).changes
    return n
  }).immediate
  const has = db.prepare('SELECT 1 FROM audit_logs WHERE id = ?').pluck()
  return {
    name: 'better-sqlite3',
    insertBatch: async (rows) => insertMany(rows),
    count: async () => db.prepare('SELECT count(*) FROM audit_logs').pluck().get(),
    missing: async (ids) => ids.filter((id) => has.get(id) === undefined),
    integrity: async () => db.pragma('integrity_check', { simple: true }),
    close: async () => db.close(),
  }
}

async function openPglite(dir) {
  const PGlite = await loadPGlite()
  // relaxedDurability stays false (the default): every query waits for the filesystem sync.
  const db = await PGlite.create(dir)
  await db.exec(PG_SCHEMA)
  const cols = FIELDS.join(',')
  return {
    name: 'pglite',
    async insertBatch(rows) {
      const params = []
      const tuples = rows.map((row) => {
        const start = params.length
        for (const field of FIELDS) {
          const value = row[field]
          params.push(
            field === 'occurred_at' || field === 'received_at' ? new Date(value) : field === 'success' ? value === 1 : value,
          )
        }
        return `(${FIELDS.map((_, j) => `$${start + j + 1}`).join(',')})`
      })
      const result = await db.query(`INSERT INTO audit_logs (${cols}) VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING`, params)
      return result.affectedRows ?? 0
    },
    count: async () => Number((await db.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n),
    async missing(ids) {
      const found = new Set()
      for (let i = 0; i < ids.length; i += 1000) {
        const { rows } = await db.query('SELECT id::text AS id FROM audit_logs WHERE id = ANY($1::uuid[])', [ids.slice(i, i + 1000)])
        for (const row of rows) found.add(row.id)
      }
      return ids.filter((id) => !found.has(id))
    },
    integrity: async () => 'n/a',
    close: () => db.close(),
  }
}

export const CANDIDATES = { 'better-sqlite3': openSqlite, pglite: openPglite }

export function openCandidate(name, dir) {
  const open = CANDIDATES[name]
  if (!open) throw new Error(`unknown candidate ${name}; one of ${Object.keys(CANDIDATES).join(', ')}`)
  return open(dir)
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
