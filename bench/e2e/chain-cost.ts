/**
 * The hash chain's cost pooled over several saved `npm run bench` outputs (each ends with a JSON
 * line of its results): one run of 9 rounds on this shared machine can land anywhere from 0 to
 * 20 %, so BENCHMARKS.md quotes medians over every round of the session.
 *
 *   npm run bench -- --scenarios queue-2-chain-on,queue-2-chain-off --runs 9 --events 100000 --no-write > run1.txt
 *   node dist-bench/bench/e2e/chain-cost.js run1.txt run2.txt …
 */
import { readFileSync } from 'node:fs'
import { median } from '../stats.js'
import { pairedCpuCost } from './report.js'
import type { ScenarioResult } from './scenarios.js'

const files = process.argv.slice(2)
if (files.length === 0) throw new Error('usage: chain-cost OUTPUT_FILE …')

// Rounds renumbered per file, so that pairs never cross files.
const results: ScenarioResult[] = files.flatMap((file, f) => {
  const line = readFileSync(file, 'utf8').split('\n').findLast((l) => l.startsWith('{"bench":"e2e"'))
  if (!line) throw new Error(`${file}: no results line (the JSON line npm run bench prints last)`)
  return (JSON.parse(line) as { results: ScenarioResult[] }).results.filter((r) => !r.problem).map((r) => ({ ...r, round: f * 10_000 + r.round }))
})

const pct = (n: number) => `${(n * 100).toFixed(1)} %`
console.log('| workers | rounds | median paired cost (events/s) | median paired CPU cost, machine speed taken out |')
console.log('| --- | --- | --- | --- |')
for (const workers of [...new Set(results.map((r) => /^queue-(\d+)-chain-on$/.exec(r.id)?.[1]).filter((w) => w !== undefined))]) {
  const on = new Map(results.filter((r) => r.id === `queue-${workers}-chain-on`).map((r) => [r.round, r]))
  const costs = results
    .filter((r) => r.id === `queue-${workers}-chain-off` && on.has(r.round))
    .map((off) => 1 - on.get(off.round)!.eventsPerSecond / off.eventsPerSecond)
  const cpu = pairedCpuCost(results, `queue-${workers}-chain-on`, `queue-${workers}-chain-off`)
  console.log(`| ${workers} | ${costs.length} | ${costs.length ? pct(median(costs)) : '—'} | ${cpu === undefined ? '—' : pct(cpu)} |`)
}
