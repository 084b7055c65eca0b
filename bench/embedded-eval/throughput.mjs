// Insert throughput per batch size (fresh data dir per run, median of runs), and how long one
// 500-event commit (the default groupCommit.maxBatchEvents) holds the event loop.
// Usage: node bench/embedded-eval/throughput.mjs [runs=5] [candidate ...]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { CANDIDATES, auditRow, median, openCandidate } from './candidates.mjs'

const runs = Number(process.argv[2] ?? 5)
const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(CANDIDATES)
// Enough commits per run that fsync jitter averages out, few enough that a run stays under ~10 s.
const PLAN = [
  { batch: 1, commits: 300 },
  { batch: 100, commits: 100 },
  { batch: 1000, commits: 30 },
]

async function withStore(name, fn) {
  const dir = mkdtempSync(path.join(tmpdir(), `auditq-tput-${name}-`))
  const store = await openCandidate(name, dir)
  try {
    return await fn(store)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function eventsPerSecond(name, batch, commits) {
  return withStore(name, async (store) => {
    let seq = 0
    const batches = Array.from({ length: commits }, () => Array.from({ length: batch }, () => auditRow(seq++)))
    await store.insertBatch([auditRow(seq++)]) // warm statement caches outside the timing
    const start = performance.now()
    for (const rows of batches) await store.insertBatch(rows)
    return (batch * commits) / ((performance.now() - start) / 1000)
  })
}

/** Wall time per 500-event commit, and the longest event-loop stall seen while they ran. */
async function block500(name) {
  return withStore(name, async (store) => {
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    let seq = 0
    const wall = []
    histogram.enable()
    for (let i = 0; i < 20; i++) {
      const rows = Array.from({ length: 500 }, () => auditRow(seq++))
      const start = performance.now()
      await store.insertBatch(rows)
      wall.push(performance.now() - start)
      await new Promise((resolve) => setTimeout(resolve, 5)) // let the histogram sample between commits
    }
    histogram.disable()
    return { medianMs: median(wall), maxMs: Math.max(...wall), loopStallMaxMs: histogram.max / 1e6 }
  })
}

console.log(`runs=${runs}, node ${process.version}, ${process.platform}/${process.arch}`)
console.log('candidate\tbatch\tevents/s (median)\truns')
for (const name of names) {
  for (const { batch, commits } of PLAN) {
    const results = []
    for (let r = 0; r < runs; r++) results.push(await eventsPerSecond(name, batch, commits))
    console.log(`${name}\t${batch}\t${Math.round(median(results))}\t${results.map(Math.round).join(',')}`)
  }
}
console.log('candidate\t500-event commit: median ms\tmax ms\tevent-loop stall max ms')
for (const name of names) {
  const b = await block500(name)
  console.log(`${name}\t${b.medianMs.toFixed(1)}\t${b.maxMs.toFixed(1)}\t${b.loopStallMaxMs.toFixed(1)}`)
}
