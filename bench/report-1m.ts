/**
 * Report latency over 1,000,000 events, and what a running report does to ingest.
 *
 *   npm run bench:report                          # PostgreSQL, 1M events in November 2026
 *   npm run bench:report -- --store embedded      # the SQLite store, same shape
 *   npm run bench:report -- --explain             # also print EXPLAIN ANALYZE of the monthly statements
 * Options: --rows 1000000 --runs 7 --database-url URL --ingest-seconds 5 --keep
 *
 * The rows are generated inside the database (generate_series / a recursive CTE), in a throwaway
 * PostgreSQL schema or temp directory that is dropped at the end (unless --keep), with the shape
 * migration 1's indexes were chosen on: 200 tenants (the largest ~27%), 250k actors, 200 actions,
 * 20 resource types, 3% failures with 10 messages, 2% critical, 10% warning. Every table row is
 * in November 2026, so the monthly report covers all of them.
 *
 * Each report is run once to warm the cache, then `runs` times; the table shows the median, min
 * and max, next to the same-run floor: one `count(*)` over the same rows.
 * The ingest part writes batches of 500 through the store for `ingest-seconds` alone, then as long
 * again while reports run back to back, and compares events/s and the slowest batch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { generateReport } from '../src/report/generate.js'
import type { PeriodRequest } from '../src/report/period.js'
import { resolvePeriod } from '../src/report/period.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { bucketCounts, failuresByAction, topValues } from '../src/store/postgres/report-sql.js'
import type { Store } from '../src/store/store.js'
import { validateEvent } from '../src/event/validate.js'
import type { AuditEvent } from '../src/event/types.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres' },
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    'ingest-seconds': { type: 'string', default: '5' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    explain: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const rows = Number(args.rows)
const runs = Number(args.runs)
const ingestMs = Number(args['ingest-seconds']) * 1000
const NOW = new Date('2026-12-15T00:00:00Z')
const MONTH_FROM = '2026-11-01T00:00:00Z'
const MONTH_SECONDS = 30 * 86_400

// ---------------------------------------------------------------- loading

/**
 * 100k rows at a time, each chunk covering the next slice of the month in time order: a real
 * audit table is appended as events happen, so a day's rows sit together on disk. (Uniformly
 * random times would spread every day over every page and make short reports read the whole heap.)
 */
function* chunks(): Generator<{ rows: number; offsetSeconds: number; spanSeconds: number }> {
  const count = Math.ceil(rows / 100_000)
  for (let i = 0; i < count; i++) {
    yield { rows: Math.min(100_000, rows - i * 100_000), offsetSeconds: (MONTH_SECONDS * i) / count, spanSeconds: MONTH_SECONDS / count }
  }
}

const PG_FILL = `INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, actor_id, actor_type,
    resource_type, resource_id, success, error_message, user_agent, metadata)
  SELECT gen_random_uuid(), 'tenant-' || floor(200 * power(random(), 3))::int, ts, ts,
    'action.' || floor(200 * power(random(), 2))::int,
    CASE WHEN r < 0.02 THEN 'critical' WHEN r < 0.12 THEN 'warning' ELSE 'info' END,
    'user-' || floor(250000 * power(random(), 2))::int, 'user',
    'type.' || floor(20 * random())::int, 'res-' || floor(500000 * random())::int,
    NOT failed, CASE WHEN failed THEN 'error ' || floor(10 * power(random(), 2))::int END,
    'bench/1', '{"k":1}'
  FROM (SELECT timestamptz '${MONTH_FROM}' + ($2::float8 + random() * $3::float8) * interval '1 second' AS ts,
      random() AS r, random() < 0.03 AS failed
    FROM generate_series(1, $1::int) ORDER BY ts) generated`

async function loadPostgres(): Promise<{ store: Store; floor: () => Promise<unknown>; explain: () => Promise<void>; cleanup: () => Promise<void> }> {
  const schema = `bench_report_${process.pid}`
  const store = await createPostgresStore({ connectionString: args['database-url'], schema })
  await store.migrate()
  const admin = new pg.Client({ connectionString: args['database-url'], options: `-c search_path=${schema} -c TimeZone=UTC` })
  await admin.connect()
  const started = Date.now()
  for (const chunk of chunks()) await admin.query(PG_FILL, [chunk.rows, chunk.offsetSeconds, chunk.spanSeconds])
  await admin.query('VACUUM ANALYZE audit_logs')
  log(`loaded ${rows} rows into schema ${schema} in ${((Date.now() - started) / 1000).toFixed(1)} s (indexes of migration 1 in place)`)
  const month = resolvePeriod({ kind: 'monthly', date: '2026-11-01' }, NOW)
  const filter = { from: month.from, to: month.to }
  return {
    store,
    floor: () => admin.query('SELECT count(*) FROM audit_logs WHERE occurred_at >= $1 AND occurred_at < $2', [month.from, month.to]),
    explain: async () => {
      const options = { topN: 10, topErrors: 5, bucket: 'day' as const }
      for (const [name, statement] of [
        ['buckets', bucketCounts(filter, options)],
        ['top actors', topValues('actor_id', filter, options)],
        ['failures by action', failuresByAction(filter, options)],
        ['buckets, largest tenant', bucketCounts({ ...filter, tenant_id: 'tenant-0' }, options)],
      ] as const) {
        const plan = await admin.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values)
        log(`\n-- ${name}\n${plan.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n')}`)
      }
    },
    cleanup: async () => {
      await store.close()
      if (!args.keep) await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.end()
    },
  }
}

async function loadEmbedded(): Promise<{ store: Store; floor: () => Promise<unknown>; explain: () => Promise<void>; cleanup: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-report-'))
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  const db = new Database(join(dataDir, EMBEDDED_DB_FILE))
  const started = Date.now()
  const from = Date.parse(MONTH_FROM)
  // abs(random()) % n is uniform; the product of two such draws / n skews towards 0 like power(r, 2).
  const fill = db.prepare(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
    INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, actor_id, actor_type,
      resource_type, resource_id, success, error_message, user_agent, metadata)
    SELECT lower(hex(randomblob(16))), 'tenant-' || ((abs(random()) % 200) * (abs(random()) % 200) * (abs(random()) % 200) / 40000),
      t, t, 'action.' || ((abs(random()) % 200) * (abs(random()) % 200) / 200),
      CASE WHEN r < 2 THEN 'critical' WHEN r < 12 THEN 'warning' ELSE 'info' END,
      'user-' || ((abs(random()) % 250000) * (abs(random()) % 250000) / 250000), 'user',
      'type.' || (abs(random()) % 20), 'res-' || (abs(random()) % 500000),
      f, CASE WHEN f = 0 THEN 'error ' || ((abs(random()) % 10) * (abs(random()) % 10) / 10) END, 'bench/1', '{"k":1}'
    FROM (SELECT ? + abs(random()) % ? AS t, abs(random()) % 100 AS r,
      CASE WHEN abs(random()) % 100 < 3 THEN 0 ELSE 1 END AS f FROM s ORDER BY t)`)
  for (const chunk of chunks()) {
    db.transaction(() => fill.run(chunk.rows, from + Math.round(chunk.offsetSeconds * 1000), Math.round(chunk.spanSeconds * 1000)))()
  }
  db.exec('ANALYZE')
  log(`loaded ${rows} rows into ${dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const month = resolvePeriod({ kind: 'monthly', date: '2026-11-01' }, NOW)
  const count = db.prepare('SELECT count(*) FROM audit_logs WHERE occurred_at >= ? AND occurred_at < ?')
  return {
    store,
    floor: async () => count.get(Date.parse(month.from), Date.parse(month.to)),
    explain: async () => log('(--explain is PostgreSQL only)'),
    cleanup: async () => {
      db.close()
      await store.close()
      if (!args.keep) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------- measuring

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e6
}

async function samples(fn: () => Promise<unknown>): Promise<number[]> {
  await fn() // warm-up: caches, prepared plans
  const result: number[] = []
  for (let i = 0; i < runs; i++) result.push(await timeIt(fn))
  return result
}

/** Batches of 500 back to back for `ingestMs`; events/s and the slowest batch. */
async function ingest(store: Store, whileRunning?: () => Promise<void>): Promise<{ eventsPerSecond: number; maxBatchMs: number; reports: number }> {
  let stop = false
  let reports = 0
  const background = whileRunning
    ? (async () => {
        while (!stop) {
          await whileRunning()
          reports += 1
        }
      })()
    : Promise.resolve()
  const started = Date.now()
  let written = 0
  let maxBatchMs = 0
  let sequence = 0
  while (Date.now() - started < ingestMs) {
    const batch = Array.from({ length: 500 }, (): AuditEvent => {
      // Inside the reported month, so every report also has to count what is landing.
      const result = validateEvent({ ...sampleEvent(sequence++), occurred_at: '2026-11-20T12:00:00.000Z' }, { receivedAt: new Date() })
      if (!result.ok) throw new Error(`bench event invalid: ${JSON.stringify(result.errors)}`)
      return result.event
    })
    maxBatchMs = Math.max(maxBatchMs, await timeIt(() => store.insertBatch(batch)))
    written += batch.length
    // Batches arrive as separate I/O events in a service: yield to the event loop between them, or
    // the embedded store's synchronous inserts would starve every other callback (the report
    // worker's answer included) until the loop ends.
    await new Promise((resolve) => setImmediate(resolve))
  }
  const elapsed = Date.now() - started
  stop = true
  await background
  return { eventsPerSecond: Math.round((written / elapsed) * 1000), maxBatchMs, reports }
}

function log(line: string): void {
  process.stderr.write(line + '\n')
}

const fmt = (ms: number) => ms.toFixed(0)

const target = args.store === 'embedded' ? await loadEmbedded() : await loadPostgres()
try {
  const floor = await samples(target.floor)
  const cases: { name: string; period: PeriodRequest; tenantId?: string }[] = [
    { name: 'monthly, all tenants', period: { kind: 'monthly', date: '2026-11-01' } },
    { name: 'monthly, largest tenant', period: { kind: 'monthly', date: '2026-11-01' }, tenantId: 'tenant-0' },
    { name: 'monthly, a small tenant', period: { kind: 'monthly', date: '2026-11-01' }, tenantId: 'tenant-150' },
    { name: 'weekly, all tenants', period: { kind: 'weekly', date: '2026-11-18' } },
    { name: 'daily, all tenants', period: { kind: 'daily', date: '2026-11-18' } },
  ]
  const table: string[][] = [[`count(*) over the month (floor)`, '1', fmt(median(floor)), fmt(Math.min(...floor)), fmt(Math.max(...floor))]]
  let monthly: () => Promise<unknown> = async () => undefined
  for (const { name, period, tenantId } of cases) {
    let total = 0
    const run = async () => {
      const report = await generateReport(target.store, { period, topN: 10, ...(tenantId ? { tenantId } : {}) }, { now: NOW, topErrors: 5 })
      total = report.summary.total
    }
    if (name.startsWith('monthly, all')) monthly = run
    const times = await samples(run)
    table.push([name, total.toLocaleString('en-US'), fmt(median(times)), fmt(Math.min(...times)), fmt(Math.max(...times))])
  }
  // The machine may be shared: say how busy it was, so figures from different runs can be compared.
  log(`\n${args.store}, ${rows.toLocaleString('en-US')} rows, ${runs} runs after one warm-up, ms (load average ${loadavg()[0]!.toFixed(1)}):`)
  printTable(['report', 'events', 'median', 'min', 'max'], table)
  if (args.explain) await target.explain()

  if (ingestMs > 0) {
    const alone = await ingest(target.store)
    const during = await ingest(target.store, async () => {
      await monthly()
    })
    log(`\ningest, batches of 500 through store.insertBatch, ${ingestMs / 1000} s each:`)
    printTable(
      ['', 'events/s', 'slowest batch ms', 'monthly reports completed meanwhile'],
      [
        ['alone', alone.eventsPerSecond.toLocaleString('en-US'), fmt(alone.maxBatchMs), '—'],
        ['while monthly reports run back to back', during.eventsPerSecond.toLocaleString('en-US'), fmt(during.maxBatchMs), String(during.reports)],
      ],
    )
  }
} finally {
  await target.cleanup()
}
