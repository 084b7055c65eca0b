/**
 * Direct-mode benchmark: `log()` throughput and latency at several concurrency levels, for each
 * store, against the naive baseline (one INSERT per event, no batching),
 * measured in the same run on the same store.
 *
 *   npm run bench:direct -- --stores embedded,postgres --concurrency 1,16,128 --seconds 3 --runs 3
 */
import { parseArgs } from 'node:util'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { validateEvent } from '../src/event/validate.js'
import { sampleEvent } from './event.js'
import { openFreshStore } from './fresh-store.js'
import { median, percentile, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'embedded,postgres' },
    concurrency: { type: 'string', default: '1,16,128' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)
const levels = values.concurrency.split(',').map(Number)

interface Sample {
  eventsPerSecond: number
  p50Ms: number
  p99Ms: number
}

/** Runs `concurrency` loops for `durationMs`, each awaiting `call` back to back. */
async function drive(concurrency: number, call: (i: number) => Promise<unknown>): Promise<Sample> {
  const latencies: number[] = []
  let counter = 0
  const deadline = performance.now() + durationMs
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now()
        await call(counter++)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { eventsPerSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
}

async function measure(kind: string, mode: 'auditq' | 'baseline', concurrency: number): Promise<Sample> {
  const { store, dispose } = await openFreshStore({ kind, databaseUrl: values['database-url'] })
  try {
    if (mode === 'auditq') {
      const audit = await createAuditLogger({ store })
      const sample = await drive(concurrency, (i) => audit.log(sampleEvent(i)))
      await audit.close()
      return sample
    }
    // The naive shape: validate, then one INSERT per event, awaited by the request.
    return await drive(concurrency, async (i) => {
      const result = validateEvent(sampleEvent(i), { receivedAt: new Date() })
      if (!result.ok) throw new Error('bench event invalid')
      await store.insertBatch([result.event])
    })
  } finally {
    await dispose()
  }
}

const rows: string[][] = []
const results: Record<string, unknown>[] = []
for (const kind of values.stores.split(',')) {
  for (const concurrency of levels) {
    const samples: Record<'auditq' | 'baseline', Sample[]> = { auditq: [], baseline: [] }
    for (let run = 0; run < runs; run++) {
      // Alternate the order so drift on a shared machine does not favour one side.
      const order = run % 2 === 0 ? (['auditq', 'baseline'] as const) : (['baseline', 'auditq'] as const)
      for (const mode of order) samples[mode].push(await measure(kind, mode, concurrency))
    }
    const summary = (mode: 'auditq' | 'baseline') => ({
      eventsPerSecond: median(samples[mode].map((s) => s.eventsPerSecond)),
      p50Ms: median(samples[mode].map((s) => s.p50Ms)),
      p99Ms: median(samples[mode].map((s) => s.p99Ms)),
    })
    const a = summary('auditq')
    const b = summary('baseline')
    results.push({ store: kind, concurrency, auditq: a, baseline: b, runs })
    rows.push([
      kind,
      String(concurrency),
      a.eventsPerSecond.toFixed(0),
      a.p50Ms.toFixed(2),
      a.p99Ms.toFixed(2),
      b.eventsPerSecond.toFixed(0),
      b.p50Ms.toFixed(2),
      b.p99Ms.toFixed(2),
      (a.eventsPerSecond / b.eventsPerSecond).toFixed(1) + '×',
    ])
    process.stderr.write(`done: ${kind} @ ${concurrency}\n`)
  }
}

printTable(
  ['store', 'callers', 'auditq ev/s', 'p50 ms', 'p99 ms', 'one-INSERT ev/s', 'p50 ms', 'p99 ms', 'speed-up'],
  rows,
)
process.stdout.write('\n' + JSON.stringify({ bench: 'direct', durationMs, runs, results }) + '\n')
