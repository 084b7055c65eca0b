/**
 * The search backfill: how fast events stored before word search get their document, per store,
 * and how long one batch holds its transaction (PostgreSQL: row locks; embedded: the write lock,
 * and the event loop, since SQLite is synchronous here).
 *
 *   npm run build:bench && node dist-bench/bench/search-backfill.js --events 100000
 * Options: --events N --batch-rows 500 --stores postgres,embedded --database-url URL
 *
 * Each store is filled through its own insertBatch, then every event's document is removed the
 * way a store from before word search lacks it (PostgreSQL: `search` set to NULL with the guard
 * bypassed by replica mode; embedded: the FTS5 entries deleted and the backfill position reset),
 * and `runSearchBackfill` fills them with no pause between batches.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent } from '../src/event/types.js'
import { runSearchBackfill, type SearchBackfillSource } from '../src/query/search/backfill.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import type { Store } from '../src/store/store.js'
import { percentile } from './stats.js'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    'batch-rows': { type: 'string', default: '500' },
    stores: { type: 'string', default: 'postgres,embedded' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const EVENTS = Number(args.events)
const BATCH_ROWS = Number(args['batch-rows'])

let n = 0
function event(): AuditEvent {
  const at = new Date(Date.parse('2026-01-01T00:00:00Z') + 10 * n++).toISOString()
  return {
    id: uuidv7(),
    tenant_id: `tenant_${n % 20}`,
    occurred_at: at,
    received_at: at,
    action: n % 3 === 0 ? 'invoice.paid' : 'user.login',
    category: 'info',
    actor_id: `user-${n % 500}`,
    actor_type: 'user',
    resource_type: 'doc',
    resource_id: `res-${n % 5000}`,
    success: true,
    error_message: null,
    description: `Event number ${n} about an invoice paid late`,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata: { note: `note ${n % 97}`, n },
    ...noAddedFields(),
  }
}

async function fill(store: Store): Promise<void> {
  for (let done = 0; done < EVENTS; done += 1000) await store.insertBatch(Array.from({ length: Math.min(1000, EVENTS - done) }, event))
}

async function measure(kind: string, source: SearchBackfillSource): Promise<Record<string, unknown>> {
  // Counting what is left is what health and every pass start with (embedded: synchronous, on the loop).
  const countStarted = performance.now()
  const counted = await source.countUnindexed()
  const countMs = performance.now() - countStarted
  const batchMs: number[] = []
  let last = performance.now()
  const report = await runSearchBackfill(source, {
    batchRows: BATCH_ROWS,
    pauseMs: 0,
    onBatch: () => {
      const now = performance.now()
      batchMs.push(now - last)
      last = now
    },
  })
  batchMs.sort((a, b) => a - b)
  const result = { store: kind, counted, count_ms: Math.round(countMs), filled: report.filled, remaining: report.remaining, seconds: report.durationMs / 1000, events_per_second: Math.round(report.filled / (report.durationMs / 1000)), batch_ms_p50: percentile(batchMs, 50), batch_ms_p99: percentile(batchMs, 99), batch_ms_max: batchMs.at(-1) }
  process.stderr.write(`${JSON.stringify(result)}\n`)
  return result
}

const results: Record<string, unknown>[] = []
for (const kind of args.stores.split(',')) {
  if (kind === 'postgres') {
    const schema = `bench_search_backfill_${process.pid}`
    const store = await createPostgresStore({ connectionString: args['database-url'], schema })
    await store.migrate()
    const admin = new pg.Client({ connectionString: args['database-url'], options: `-c search_path=${schema}` })
    await admin.connect()
    try {
      await fill(store)
      await admin.query('SET session_replication_role = replica')
      await admin.query('UPDATE audit_logs SET search = NULL')
      await admin.query('VACUUM ANALYZE audit_logs')
      results.push(await measure(kind, store.searchBackfill!))
    } finally {
      await store.close()
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.end()
    }
  } else {
    const dir = mkdtempSync(`${tmpdir()}/auditq-search-backfill-`)
    const store = await createEmbeddedStore({ dataDir: dir })
    try {
      await store.migrate()
      await fill(store)
      const db = new Database(`${dir}/${EMBEDDED_DB_FILE}`, { timeout: 5_000 })
      db.exec('DELETE FROM audit_logs_fts; UPDATE auditq_search_backfill SET below = (SELECT max(rowid) + 1 FROM audit_logs)')
      db.close()
      results.push(await measure(kind, store.searchBackfill!))
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
process.stdout.write(`${JSON.stringify({ bench: 'search-backfill', events: EVENTS, batch_rows: BATCH_ROWS, load: loadavg(), results })}\n`)
