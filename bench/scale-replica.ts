/**
 * Reads on a streaming replica against the same reads on the primary, in one run, while the
 * primary ingests at full load. A private primary (initdb) and a `pg_basebackup -R` hot standby of
 * it are started on ports of their own (test/support/private-postgres.ts; as root both run as the
 * `postgres` user), N chained events are loaded over 10 tenants, then:
 *
 * 1. the documented replica reads (newest page of 100, a tenant's page, a 30-day report for one
 *    tenant, verify of one tenant) are timed against each server with nothing else running;
 * 2. a writer process inserts at full load (`--writers` concurrent batches of `--batch` into the
 *    primary), its rate over 5 s is the baseline, and the same reads are timed again, primary and
 *    replica alternating, while the replica's lag is sampled every 100 ms (pg_stat_replication's
 *    replay_lag and the WAL bytes not yet replayed).
 *
 *   npm run bench:scale-replica -- --events 200000
 *
 * Both servers run with the private cluster's settings (fsync off, shared_buffers 16 MB) on the
 * same machine as the writer and this process: a replica on its own machine takes its reads' CPU
 * and I/O off the primary, which one machine cannot show; what this does show is what a read costs
 * on each while WAL replay competes with it, and how far behind the replica runs.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import type { AuditEvent } from '../src/event/types.js'
import { validateEvent } from '../src/event/validate.js'
import { verifyChains } from '../src/integrity/verify.js'
import { createPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.js'
import { privatePostgresAvailable, startPrivatePostgres, startReplicaOf } from '../test/support/private-postgres.js'
import { sampleEvent } from './event.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    tenants: { type: 'string', default: '10' },
    writers: { type: 'string', default: '4' },
    batch: { type: 'string', default: '500' },
    runs: { type: 'string', default: '9' },
    // Internal: this script started as the writer process.
    'writer-url': { type: 'string' },
    schema: { type: 'string', default: 'bench_replica' },
  },
  // bench:scale passes one argument list to every script it runs; ignore the others' options.
  strict: false,
})
const str = (key: string) => values[key] as string
const tenants = Number(str('tenants'))
const DAY = 86_400_000
const NOW = Date.now()

function event(i: number, occurredAt: number): AuditEvent {
  const input = { ...sampleEvent(i, 'r'), tenant_id: `tenant-${i % tenants}`, occurred_at: new Date(occurredAt).toISOString() }
  const result = validateEvent(input, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

/** The writer process: `--writers` loops inserting batches as fast as the primary takes them; prints its count every 250 ms. */
async function writer(url: string): Promise<void> {
  const writers = Number(str('writers'))
  const batch = Number(str('batch'))
  const store = await createPostgresStore({ connectionString: url, schema: str('schema'), poolMax: writers })
  let written = 0
  let i = 100_000_000 + process.pid * 1_000_000
  let stopping = false
  process.on('SIGTERM', () => (stopping = true))
  const report = setInterval(() => process.stdout.write(`${written}\n`), 250)
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (!stopping) written += (await store.insertBatch(Array.from({ length: batch }, () => event(i++, Date.now())))).inserted
    }),
  )
  clearInterval(report)
  await store.close()
}

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
const quantile = (samples: number[], q: number) => [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor(samples.length * q))]!
const round = (ms: number) => Math.round(ms * 100) / 100

type Read = (store: PostgresStore) => Promise<unknown>

/** The reads docs/scaling.md sends to a replica. */
const READS: Record<string, { read: Read; runs: (base: number) => number }> = {
  newest_page: { read: (store) => store.query({}, { limit: 100 }), runs: (base) => base },
  tenant_page: { read: (store) => store.query({ tenant_id: 'tenant-3' }, { limit: 100 }), runs: (base) => base },
  report_30_days_tenant: {
    read: (store) =>
      store.report({ tenant_id: 'tenant-3', from: new Date(NOW - 30 * DAY).toISOString(), to: new Date(NOW + DAY).toISOString() }, { topN: 10, topErrors: 3, bucket: 'day' }),
    runs: (base) => Math.max(3, Math.ceil(base / 2)),
  },
  verify_tenant: {
    read: async (store) => {
      const report = await verifyChains('postgres', store.integrity, { tenant_id: 'tenant-3' })
      if (!report.intact) throw new Error('verify of tenant-3 failed')
    },
    runs: () => 3,
  },
}

/** Median per read and server, primary and replica alternating within each read's runs. */
async function timeReads(primary: PostgresStore, replica: PostgresStore, base: number) {
  const result: Record<string, { primary_ms: number; replica_ms: number }> = {}
  for (const [name, { read, runs }] of Object.entries(READS)) {
    await read(primary)
    await read(replica)
    const samples = { primary: [] as number[], replica: [] as number[] }
    for (let run = 0; run < runs(base); run++) {
      for (const side of ['primary', 'replica'] as const) {
        const t0 = performance.now()
        await read(side === 'primary' ? primary : replica)
        samples[side].push(performance.now() - t0)
      }
    }
    result[name] = { primary_ms: round(median(samples.primary)), replica_ms: round(median(samples.replica)) }
    process.stderr.write(`  ${name}: ${JSON.stringify(result[name])}\n`)
  }
  return result
}

async function caughtUp(primaryUrl: string, replicaUrl: string): Promise<void> {
  const primary = new pg.Client({ connectionString: primaryUrl })
  const replica = new pg.Client({ connectionString: replicaUrl })
  await primary.connect()
  await replica.connect()
  try {
    const target = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn
    for (;;) {
      const { rows } = await replica.query<{ behind: boolean }>('SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()) > 0 AS behind', [target])
      if (!rows[0]!.behind) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await primary.end()
    await replica.end()
  }
}

async function main(): Promise<void> {
  if (values['writer-url']) return writer(str('writer-url'))
  if (!privatePostgresAvailable()) throw new Error('bench:scale-replica needs initdb, pg_ctl and pg_basebackup (and, as root, a postgres user)')
  const total = Number(str('events'))
  const schema = str('schema')
  let child: ReturnType<typeof spawn> | undefined
  process.stderr.write('starting a private primary and a streaming replica of it\n')
  const primaryServer = await startPrivatePostgres()
  const replicaServer = await startReplicaOf(primaryServer)
  // Interrupted (Ctrl-C, a time limit), the private servers must not outlive the run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      child?.kill('SIGKILL')
      void Promise.allSettled([replicaServer.destroy(), primaryServer.destroy()]).then(() => process.exit(130))
    })
  }
  const stores: PostgresStore[] = []
  try {
    const loader = await createPostgresStore({ connectionString: primaryServer.url, schema, poolMax: 4 })
    stores.push(loader)
    await loader.migrate()
    const admin = new pg.Client({ connectionString: primaryServer.url, options: `-c search_path=${schema}` })
    await admin.connect()
    const lsnBefore = (await admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn
    let t0 = performance.now()
    for (let i = 0; i < total; i += 5_000) {
      const batch: AuditEvent[] = []
      // occurred_at spread over the last 60 days, so the 30-day report reads about half of a tenant.
      for (let j = i; j < Math.min(i + 5_000, total); j++) batch.push(event(j, NOW - ((j * 7919) % 1000) / 1000 * 60 * DAY))
      await loader.insertBatch(batch)
      if (i % 100_000 === 0) process.stderr.write(`loaded ${i}\n`)
    }
    const loadSeconds = (performance.now() - t0) / 1000
    // What the load cost in WAL (what a replica replays) and on disk (every table and index of the schema).
    const { rows: cost } = await admin.query<{ wal: string; disk: string }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS wal,
        (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relnamespace = $2::regnamespace AND c.relkind IN ('r', 'm'))::bigint AS disk`,
      [lsnBefore, schema],
    )
    const walBytesPerEvent = Math.round(Number(cost[0]!.wal) / total)
    const diskBytesPerEvent = Math.round(Number(cost[0]!.disk) / total)
    await admin.query('ANALYZE')
    await admin.end()
    await caughtUp(primaryServer.url, replicaServer.url)
    process.stderr.write(`loaded ${total} in ${loadSeconds.toFixed(1)} s; replica caught up\n`)

    const onPrimary = await createPostgresStore({ connectionString: primaryServer.url, schema })
    // A bound no lag here reaches: every read of this store must come from the replica (checked below).
    const onReplica = await createPostgresStore({
      connectionString: primaryServer.url,
      schema,
      readReplica: { connectionString: replicaServer.url, maxLagMs: 600_000, probeEveryMs: 500 },
    })
    stores.push(onPrimary, onReplica)
    // migrate() has nothing left to apply; it is what starts the replica's lag probe.
    await onReplica.migrate()
    while (onReplica.readReplicaStatus()?.inUse !== true) await new Promise((resolve) => setTimeout(resolve, 100))

    const base = Number(str('runs'))
    process.stderr.write('reads, nothing else running\n')
    const idle = await timeReads(onPrimary, onReplica, base)

    // The writer in a process of its own, so its event loop and this one's timings stay apart.
    let written = 0
    child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--writer-url', primaryServer.url, '--schema', schema, '--writers', str('writers'), '--batch', str('batch')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    createInterface({ input: child.stdout! }).on('line', (line) => (written = Number(line)))
    const lag: { seconds: number[]; bytes: number[] } = { seconds: [], bytes: [] }
    const probe = new pg.Client({ connectionString: primaryServer.url })
    await probe.connect()
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await probe.query<{ seconds: number | null; bytes: string | null }>(
          'SELECT extract(epoch FROM replay_lag)::float8 AS seconds, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS bytes FROM pg_stat_replication',
        )
        // replay_lag is NULL once the standby has replayed everything and nothing new came: no lag.
        if (rows[0]) {
          lag.seconds.push(rows[0].seconds ?? 0)
          lag.bytes.push(Number(rows[0].bytes ?? 0))
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    // Warm-up, then the writer's rate alone.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    let w0 = written
    t0 = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const aloneRate = (written - w0) / ((performance.now() - t0) / 1000)
    process.stderr.write(`writer alone: ${Math.round(aloneRate)} events/s; reads under ingest\n`)
    const fallbacksBefore = onReplica.readReplicaStatus()!.fallbacks
    w0 = written
    t0 = performance.now()
    const underIngest = await timeReads(onPrimary, onReplica, base)
    const duringRate = (written - w0) / ((performance.now() - t0) / 1000)
    sampling = false
    await sampler
    await probe.end()
    child.kill('SIGTERM')
    await new Promise((resolve) => child!.once('exit', resolve))
    child = undefined
    const status = onReplica.readReplicaStatus()!
    if (status.fallbacks !== fallbacksBefore || !status.inUse) throw new Error(`replica reads fell back to the primary: ${JSON.stringify(status)}`)

    process.stdout.write(
      JSON.stringify(
        {
          events: total,
          tenants,
          load_events_per_second: Math.round(total / loadSeconds),
          load_wal_bytes_per_event: walBytesPerEvent,
          disk_bytes_per_event: diskBytesPerEvent,
          writer: { writers: Number(str('writers')), batch: Number(str('batch')) },
          median_ms_idle: idle,
          median_ms_under_ingest: underIngest,
          ingest_events_per_second: { writer_alone: Math.round(aloneRate), during_reads: Math.round(duringRate) },
          replica_lag_during_ingest: {
            samples: lag.seconds.length,
            seconds_p50: round(median(lag.seconds)),
            seconds_p99: round(quantile(lag.seconds, 0.99)),
            seconds_max: round(Math.max(...lag.seconds)),
            wal_bytes_p50: median(lag.bytes),
            wal_bytes_p99: quantile(lag.bytes, 0.99),
          },
        },
        null,
        2,
      ) + '\n',
    )
  } finally {
    child?.kill('SIGKILL')
    await Promise.all(stores.map((store) => store.close().catch(() => undefined)))
    await replicaServer.destroy()
    await primaryServer.destroy()
  }
}

await main()
