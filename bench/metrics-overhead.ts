/**
 * What the Prometheus hooks cost `log()`: the same direct-mode loop over the embedded store, with
 * and without the service's SDK hooks (log() latency histogram, group-commit batch histograms),
 * runs interleaved so drift hits both equally, plus the cost of one /metrics render.
 *
 *   npm run bench:metrics -- --concurrency 1,64 --seconds 3 --runs 5
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { newRegistry, ServiceMetrics } from '../src/observability/metrics.js'
import { createAuditLogger, type AuditLogger } from '../src/sdk/audit-logger.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1,64' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '5' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)

async function drive(audit: AuditLogger, concurrency: number): Promise<number> {
  let counter = 0
  let done = 0
  const deadline = performance.now() + durationMs
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await audit.log(sampleEvent(counter++))
        done++
      }
    }),
  )
  return done / ((performance.now() - started) / 1000)
}

async function once(concurrency: number, withMetrics: boolean): Promise<{ rate: number; renderMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-metrics-'))
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  const metrics = new ServiceMetrics(newRegistry())
  const audit = await createAuditLogger({ store, ...(withMetrics ? metrics.sdkHooks : {}) })
  metrics.attach({ audit, latest: () => undefined })
  try {
    const rate = await drive(audit, concurrency)
    const t0 = performance.now()
    await metrics.registry.metrics()
    return { rate, renderMs: performance.now() - t0 }
  } finally {
    await audit.close()
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The hook's own cost per log(), isolated from store noise: two clock reads and one histogram observe. */
function hookNanoseconds(): number {
  const metrics = new ServiceMetrics(newRegistry())
  const { observeLogSeconds } = metrics.sdkHooks
  const n = 1_000_000
  const samples: number[] = []
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      const started = performance.now()
      observeLogSeconds((performance.now() - started) / 1000)
    }
    samples.push(Number(process.hrtime.bigint() - t0) / n)
  }
  return median(samples)
}
process.stdout.write(`hook cost per log(): ${hookNanoseconds().toFixed(0)} ns (median of 5 × 1,000,000)\n`)

const rows: string[][] = []
for (const concurrency of values.concurrency.split(',').map(Number)) {
  const without: number[] = []
  const withHooks: number[] = []
  const renders: number[] = []
  for (let run = 0; run < runs; run++) {
    without.push((await once(concurrency, false)).rate)
    const measured = await once(concurrency, true)
    withHooks.push(measured.rate)
    renders.push(measured.renderMs)
  }
  const a = median(without)
  const b = median(withHooks)
  rows.push([String(concurrency), Math.round(a).toLocaleString('en-US'), Math.round(b).toLocaleString('en-US'), `${(((b - a) / a) * 100).toFixed(1)}%`, median(renders).toFixed(2)])
}
printTable(['concurrency', 'log()/s without hooks (median)', 'log()/s with hooks (median)', 'difference', '/metrics render ms (median)'], rows)
