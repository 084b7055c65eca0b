/**
 * Where direct mode waits: drives `log()` from N callers into a fresh PostgreSQL schema and, while
 * it runs, samples what the store's backends are doing (pg_stat_activity every 5 ms: running on
 * CPU, waiting on a lock, on the WAL flush, or idle waiting for the next statement), how busy this
 * process's event loop is, and the group commit's batch sizes and commits per second.
 *
 *   npm run bench:direct-waits -- --callers 16,128 --in-flight 1,2,4 --seconds 4 --runs 3
 *
 * One line per (callers, commits in flight), medians over runs; the raw samples go to stdout as JSON.
 */
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '16,128' },
    'in-flight': { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)

interface Run {
  eventsPerSecond: number
  commitsPerSecond: number
  meanBatch: number
  /** Event-loop utilisation of this process (validation, batch preparation, callers). */
  loopBusy: number
  /** Share of samples, per backend state, summed over the store's write connections. */
  backends: Record<string, number>
}

/** Samples the write connections of one schema until stopped; returns counts per state. */
function sampleBackends(observer: pg.Client, appName: string): { stop: () => Promise<Record<string, number>> } {
  const counts: Record<string, number> = {}
  let samples = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const { rows } = await observer.query<{ state: string | null; wait_event_type: string | null; wait_event: string | null }>(
        'SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE application_name = $1',
        [appName],
      )
      samples += 1
      for (const row of rows) {
        const key =
          row.state === 'active' ? (row.wait_event_type ? `${row.wait_event_type}:${row.wait_event}` : 'on CPU') : `idle (${row.state ?? 'none'})`
        counts[key] = (counts[key] ?? 0) + 1
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      // Per sample: on average, how many backends were in each state.
      return Object.fromEntries(Object.entries(counts).map(([key, n]) => [key, n / Math.max(1, samples)]))
    },
  }
}

async function measure(callers: number, inFlight: number): Promise<Run> {
  const schema = `bench_waits_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const appName = schema
  const url = new URL(values['database-url'])
  url.searchParams.set('application_name', appName)
  const store = await createPostgresStore({ connectionString: url.toString(), schema })
  await store.migrate()
  const observer = new pg.Client({ connectionString: values['database-url'] })
  await observer.connect()
  let commits = 0
  let committed = 0
  const audit = await createAuditLogger({
    store,
    groupCommit: { maxInFlight: inFlight },
    observeCommit: (report) => {
      commits += 1
      committed += report.events
    },
  })
  try {
    // Warm up the pool and the statement cache outside the measurement.
    await Promise.all(Array.from({ length: callers }, (_, i) => audit.log(sampleEvent(i, 'warm-'))))
    commits = 0
    committed = 0
    const sampler = sampleBackends(observer, appName)
    const loop0 = performance.eventLoopUtilization()
    let counter = 0
    let done = 0
    const started = performance.now()
    const deadline = started + durationMs
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < deadline) {
          await audit.log(sampleEvent(counter++))
          done += 1
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const loop = performance.eventLoopUtilization(loop0)
    const backends = await sampler.stop()
    return { eventsPerSecond: done / seconds, commitsPerSecond: commits / seconds, meanBatch: committed / Math.max(1, commits), loopBusy: loop.utilization, backends }
  } finally {
    await audit.close()
    await store.close()
    await observer.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await observer.end()
  }
}

const rows: string[][] = []
const raw: unknown[] = []
for (const callers of values.callers.split(',').map(Number)) {
  for (const inFlight of values['in-flight'].split(',').map(Number)) {
    const samples: Run[] = []
    for (let run = 0; run < runs; run++) samples.push(await measure(callers, inFlight))
    raw.push({ callers, inFlight, samples })
    const states = new Set(samples.flatMap((s) => Object.keys(s.backends)))
    const backends = [...states]
      .map((state) => [state, median(samples.map((s) => s.backends[state] ?? 0))] as const)
      .filter(([, n]) => n >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([state, n]) => `${state} ${n.toFixed(2)}`)
      .join(', ')
    rows.push([
      String(callers),
      String(inFlight),
      median(samples.map((s) => s.eventsPerSecond)).toFixed(0),
      median(samples.map((s) => s.commitsPerSecond)).toFixed(0),
      median(samples.map((s) => s.meanBatch)).toFixed(0),
      `${(median(samples.map((s) => s.loopBusy)) * 100).toFixed(0)} %`,
      backends,
    ])
    process.stderr.write(`done: ${callers} callers, ${inFlight} in flight\n`)
  }
}
printTable(['callers', 'commits in flight', 'events/s', 'commits/s', 'events per commit', 'event loop busy', 'write connections by state (mean of samples)'], rows)
process.stdout.write('\n' + JSON.stringify({ bench: 'direct-waits', durationMs, runs, raw }) + '\n')
