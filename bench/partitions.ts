/**
 * The time-partitioned layout against the plain table, in one run, each in a schema of its own:
 * load N chained events (90 % older than the cutoff by default, spread over days 91–180 back; the
 * rest over the last 89 days), time queries and a report, then run retention while a writer keeps
 * inserting (its rate in the 5 s before is the same-run baseline), then verify what is left.
 *
 *   npm run bench:partitions -- --events 1000000 [--load-writers 2]
 *
 * Defaults to 10,000,000 events (over an hour on a quiet 2-core machine, ~10 GB per layout); `--layouts` picks one.
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { pino } from 'pino'
import type { AuditEvent } from '../src/event/types.js'
import { validateEvent } from '../src/event/validate.js'
import { generateSigningKeyPem, parseSigningKey } from '../src/integrity/checkpoint.js'
import { verifyChains } from '../src/integrity/verify.js'
import { runCleanup } from '../src/retention/cleanup.js'
import type { EventFilter } from '../src/query/event-filter.js'
import { createPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.js'
import { sampleEvent } from './event.js'

const { values: parsed } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    expired: { type: 'string', default: '0.9' },
    tenants: { type: 'string', default: '10' },
    chunk: { type: 'string', default: '5000' },
    interval: { type: 'string', default: 'week' },
    layouts: { type: 'string', default: 'plain,partitioned' },
    'load-writers': { type: 'string', default: '1' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
  // bench:scale passes one argument list to every script it runs; ignore the others' options.
  strict: false,
})
const values = parsed as Record<'events' | 'expired' | 'tenants' | 'chunk' | 'interval' | 'layouts' | 'load-writers' | 'database-url', string>
const total = Number(values.events)
const expiredShare = Number(values.expired)
const tenants = Number(values.tenants)
const loadWriters = Number(values['load-writers'])
if (tenants % loadWriters !== 0) throw new Error('--load-writers must divide --tenants (each loader keeps its own tenants)')
const DAY = 86_400_000
const NOW = Date.now()
const CUTOFF = new Date(NOW - 90 * DAY)

function event(i: number, occurredAt: number): AuditEvent {
  const input = { ...sampleEvent(i, 'p'), tenant_id: `tenant-${i % tenants}`, occurred_at: new Date(occurredAt).toISOString() }
  const result = validateEvent(input, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

/** Event i's occurred_at: expired ones over days 91–180 back, the rest over the last 89 days; interleaved. */
function occurredAt(i: number): number {
  const expired = (i % 1000) < expiredShare * 1000
  const spread = (i * 7919) % 1000 / 1000
  return expired ? NOW - (91 + spread * 89) * DAY : NOW - (1 + spread * 88) * DAY
}

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
const round = (ms: number) => Math.round(ms * 100) / 100

async function timed(fn: () => Promise<unknown>, runs = 15): Promise<number> {
  await fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return round(median(samples))
}

async function runLayout(layout: 'plain' | 'partitioned') {
  const schema = `bench_part_${layout}_${process.pid}`
  const store: PostgresStore = await createPostgresStore({
    connectionString: values['database-url'],
    schema,
    poolMax: 4,
    ...(layout === 'partitioned' ? { partitioning: { interval: values.interval as 'day' | 'week' | 'month', ahead: 2, since: NOW - 200 * DAY } } : {}),
  })
  try {
    await store.migrate()
    let t0 = performance.now()
    // `--load-writers` loaders at once, each with its own tenants (event j's tenant is j % tenants,
    // and loader k takes the j with j % writers = k), so no two wait on one chain head.
    let loaded = 0
    let reported = 0
    await Promise.all(
      Array.from({ length: loadWriters }, async (_, k) => {
        let batch: AuditEvent[] = []
        for (let j = k; j < total; j += loadWriters) {
          batch.push(event(j, occurredAt(j)))
          if (batch.length === 5_000 || j + loadWriters >= total) {
            await store.insertBatch(batch)
            loaded += batch.length
            batch = []
            if (loaded - reported >= 500_000) {
              reported = loaded
              process.stderr.write(`${layout}: loaded ${loaded} (${Math.round(loaded / ((performance.now() - t0) / 1000))} events/s)\n`)
            }
          }
        }
      }),
    )
    const loadSeconds = (performance.now() - t0) / 1000
    const admin = new pg.Client({ connectionString: values['database-url'], options: `-c search_path=${schema}` })
    await admin.connect()
    await admin.query('ANALYZE audit_logs')
    const size = (await admin.query<{ size: string }>("SELECT pg_size_pretty(pg_total_relation_size('audit_logs') + coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass), 0)) AS size")).rows[0]!.size
    await admin.end()

    process.stderr.write(`${layout}: loaded ${total} in ${loadSeconds.toFixed(1)} s; timing reads\n`)
    const page = (filter: EventFilter) => () => store.query(filter, { limit: 100 })
    const latencyMs = {
      newest_page: await timed(page({})),
      tenant_page: await timed(page({ tenant_id: 'tenant-3' })),
      actor_page: await timed(page({ actor_id: 'user-42' })),
      last_7_days_tenant_page: await timed(page({ tenant_id: 'tenant-3', from: new Date(NOW - 7 * DAY).toISOString() })),
      by_id: await timed(() => store.getById(event(12_345, occurredAt(12_345)).id)),
      report_30_days_tenant: await timed(
        () => store.report({ tenant_id: 'tenant-3', from: new Date(NOW - 30 * DAY).toISOString(), to: new Date(NOW).toISOString() }, { topN: 10, topErrors: 3, bucket: 'day' }),
        5,
      ),
    }

    process.stderr.write(`${layout}: reads ${JSON.stringify(latencyMs)}; retention next\n`)
    let writing = true
    let written = 0
    let longestInsertMs = 0
    let i = 50_000_000
    const writer = (async () => {
      while (writing) {
        const started = performance.now()
        written += (await store.insertBatch(Array.from({ length: 100 }, () => event(i++, Date.now())))).inserted
        longestInsertMs = Math.max(longestInsertMs, performance.now() - started)
        await new Promise((resolve) => setImmediate(resolve))
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const baselineRate = written / 5
    longestInsertMs = 0
    const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    const writerStart = written
    // When the run logs its first removal: in the partitioned layout every cut is recorded before
    // anything is removed, so this is where its cut phase ends.
    let firstRemovalAt: number | null = null
    const logger = pino({ level: 'info' }, {
      write(line: string) {
        if (firstRemovalAt === null && /retention: (partition dropped|tenant cleaned)/.test(line)) firstRemovalAt = performance.now()
      },
    })
    t0 = performance.now()
    const cleanupStart = t0
    const report = await runCleanup(store, { cutoff: CUTOFF, keepActions: [], dryRun: false, chunkRows: Number(values.chunk), defaultTenant: 'default', signingKey: key, logger })
    const cleanupSeconds = (performance.now() - t0) / 1000
    const duringRate = (written - writerStart) / cleanupSeconds
    writing = false
    await writer
    if (report.status !== 'done') throw new Error(`cleanup did not run: ${report.status}`)
    process.stderr.write(`${layout}: retention ${cleanupSeconds.toFixed(1)} s; verifying\n`)
    // What the partitioned store's maintenance does every round: the writer has just filled the
    // current partition past the statistics the load left (docs/scaling.md).
    t0 = performance.now()
    const analyzed = layout === 'partitioned' ? await store.partitions!.analyzeStale() : []
    const analyzeSeconds = (performance.now() - t0) / 1000
    t0 = performance.now()
    const verified = await verifyChains('postgres', store.integrity, { checkpoints: { external: report.checkpoints, publicKeys: [key.publicKey] } })
    const verifySeconds = (performance.now() - t0) / 1000
    return {
      layout,
      events: total,
      load_seconds: Math.round(loadSeconds),
      load_events_per_second: Math.round(total / loadSeconds),
      size,
      latency_ms_median: latencyMs,
      retention: {
        deleted: report.total,
        seconds: Number(cleanupSeconds.toFixed(1)),
        deleted_per_second: Math.round(report.total / cleanupSeconds),
        until_first_removal_seconds: firstRemovalAt === null ? null : Number(((firstRemovalAt - cleanupStart) / 1000).toFixed(1)),
        partitions_left: layout === 'partitioned' ? (await store.partitions!.list()).length : null,
      },
      ingest_events_per_second: { before_retention: Math.round(baselineRate), during_retention: Math.round(duringRate), longest_insert_ms_during: Math.round(longestInsertMs) },
      verify_after: { seconds: Number(verifySeconds.toFixed(1)), intact: verified.intact, events: verified.events, stale_partitions_analyzed_before: analyzed.length, analyze_seconds: Number(analyzeSeconds.toFixed(1)) },
    }
  } finally {
    await store.close()
    const client = new pg.Client({ connectionString: values['database-url'] })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
  }
}

const results = []
for (const layout of values.layouts.split(',') as ('plain' | 'partitioned')[]) results.push(await runLayout(layout))
process.stdout.write(JSON.stringify({ cutoff: CUTOFF.toISOString(), interval: values.interval, results }, null, 2) + '\n')
