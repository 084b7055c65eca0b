/**
 * Retention at scale: load N chained events (most of them older than the cutoff, 1 % of those
 * with an excluded action), then time `runCleanup` (count, cut digest, chunked deletes, own event,
 * signed checkpoint) while a writer keeps inserting, then time `verify` over what is left (and,
 * before the cleanup, over the whole loaded chain).
 *
 *   npm run bench:retention -- --store postgres --events 1000000 --chunk 5000
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { generateSigningKeyPem, parseSigningKey } from '../src/integrity/checkpoint.js'
import { verifyChains } from '../src/integrity/verify.js'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { validateEvent } from '../src/event/validate.js'
import type { AuditEvent } from '../src/event/types.js'
import { runCleanup } from '../src/retention/cleanup.js'
import type { Store } from '../src/store/store.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { sampleEvent } from './event.js'

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres' },
    events: { type: 'string', default: '1000000' },
    recent: { type: 'string', default: '10000' },
    chunk: { type: 'string', default: '5000' },
    tenants: { type: 'string', default: '10' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const total = Number(values.events)
const recent = Number(values.recent)
const tenants = Number(values.tenants)
const DAY = 86_400_000

async function open(): Promise<{ store: Store; dispose: () => Promise<void> }> {
  if (values.store === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-retention-'))
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    return { store, dispose: async () => { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = `bench_ret_${process.pid}`
  const store = await createPostgresStore({ connectionString: values['database-url'], schema, poolMax: 4 })
  await store.migrate()
  return {
    store,
    dispose: async () => {
      await store.close()
      const client = new pg.Client({ connectionString: values['database-url'] })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}

const round1 = (value: number) => Math.round(value * 10) / 10

function event(i: number, occurredAt: Date): AuditEvent {
  const input = { ...sampleEvent(i, 'r'), tenant_id: `tenant-${i % tenants}`, occurred_at: occurredAt.toISOString(), action: i % 100 === 0 ? 'billing.charge' : 'api_key.created' }
  const result = validateEvent(input, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

const { store, dispose } = await open()
try {
  const now = Date.now()
  let t0 = performance.now()
  for (let i = 0; i < total + recent; i += 5_000) {
    const batch: AuditEvent[] = []
    for (let j = i; j < Math.min(i + 5_000, total + recent); j++) {
      // Old events spread over days 91–180 back; recent ones within the last day; interleaved in seq.
      const old = j % Math.ceil((total + recent) / Math.max(1, recent)) !== 0
      batch.push(event(j, new Date(old ? now - (91 + (j % 89)) * DAY : now - (j % 1000) * 60_000)))
    }
    await store.insertBatch(batch)
    if (i % 100_000 === 0) process.stderr.write(`loaded ${i}\n`)
  }
  const loadSeconds = (performance.now() - t0) / 1000
  process.stderr.write(`loaded ${total + recent} in ${loadSeconds.toFixed(1)} s\n`)

  // Verify of the whole loaded chain, nothing else running: what an auditor's full check costs.
  t0 = performance.now()
  const before = await verifyChains(store.kind, store.integrity!)
  const verifyBeforeSeconds = (performance.now() - t0) / 1000
  if (!before.intact || before.events !== total + recent) throw new Error(`verify before cleanup: ${JSON.stringify(before.first_break ?? before.events)}`)

  // A writer that keeps inserting before and during the cleanup: its rate and slowest insert show
  // whether ingest is blocked. The 10 s before the cleanup are the same-run baseline.
  let writing = true
  let written = 0
  let longestInsertMs = 0
  const writer = (async () => {
    let i = 10_000_000
    while (writing) {
      const started = performance.now()
      written += (await store.insertBatch(Array.from({ length: 100 }, () => event(i++, new Date())))).inserted
      longestInsertMs = Math.max(longestInsertMs, performance.now() - started)
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  const baselineRate = written / 10
  const baselineLongestMs = longestInsertMs
  longestInsertMs = 0
  const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
  // How long the event loop stalls while cleanup runs: what a service in this process would add
  // to every request's latency (SQLite's deletes run on it; PostgreSQL's run in the server).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  t0 = performance.now()
  const writerStart = written
  const report = await runCleanup(store, {
    cutoff: new Date(now - 90 * DAY),
    keepActions: ['billing.charge'],
    dryRun: false,
    chunkRows: Number(values.chunk),
    defaultTenant: 'default',
    signingKey: key,
  })
  const cleanupSeconds = (performance.now() - t0) / 1000
  loopDelay.disable()
  const concurrentRate = (written - writerStart) / cleanupSeconds
  writing = false
  await writer
  if (report.status !== 'done') throw new Error(`cleanup did not run: ${report.status}`)

  t0 = performance.now()
  const verified = await verifyChains(store.kind, store.integrity!, { checkpoints: { external: report.checkpoints, publicKeys: [key.publicKey] } })
  const verifySeconds = (performance.now() - t0) / 1000
  const result = {
    store: store.kind,
    loaded: total + recent,
    load_seconds: Number(loadSeconds.toFixed(1)),
    deleted: report.total,
    verify_seconds_before: Number(verifyBeforeSeconds.toFixed(1)),
    verify_events_per_second_before: Math.round((total + recent) / verifyBeforeSeconds),
    chunk_rows: Number(values.chunk),
    cleanup_seconds: Number(cleanupSeconds.toFixed(1)),
    deleted_per_second: Math.round(report.total / cleanupSeconds),
    inserts_per_second_before_cleanup: Math.round(baselineRate),
    longest_insert_ms_before_cleanup: Math.round(baselineLongestMs),
    concurrent_inserts_per_second_during_cleanup: Math.round(concurrentRate),
    longest_concurrent_insert_ms: Math.round(longestInsertMs),
    event_loop_delay_ms_during_cleanup: { p50: round1(loopDelay.percentile(50) / 1e6), p99: round1(loopDelay.percentile(99) / 1e6), max: round1(loopDelay.max / 1e6) },
    verify_seconds_after: Number(verifySeconds.toFixed(1)),
    verify_intact: verified.intact,
    verified_events: verified.events,
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
} finally {
  await dispose()
}
