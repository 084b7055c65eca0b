/**
 * Medians over rounds, ratios taken within each round (so both sides of a ratio saw the same
 * machine at the same time), the targets, and the Markdown section in BENCHMARKS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { median } from '../stats.js'
import { ROLES, type Role } from './cpu.js'
import type { RunSettings, ScenarioDef, ScenarioResult } from './scenarios.js'

export interface Summary {
  id: string
  label: string
  setup: string
  kind: ScenarioDef['kind']
  rounds: number
  eventsPerSecond: number
  acceptedPerSecond: number
  tailMs: number
  p50: number
  p99: number
  p999: number
  max: number
  lagP99?: number
  /** Open loop with --loop-stalls: medians over rounds, per second of the run. */
  stalls?: { perSecond: number; stalledMsPerSecond: number; waitingShare: number; gcMsPerSecond: number; longGcPerSecond: number }
  /** Share of the run the producer's event loop was runnable but waiting for a CPU. */
  runQueueWait: number
  /** Median over rounds of this ÷ COPY in the same round. */
  ofCeiling?: number
  /** Baselines: median over rounds of auditq's comparable row ÷ this one. */
  auditqTimes?: { ref: string; times: number }
  /** CPU µs per event by role, and the machine's busy share. */
  cpuUsPerEvent: Record<Role, number>
  machineBusy: number
  /** Cores' worth of CPU used by processes outside the benchmark (other people's work on the machine). */
  backgroundCores: number
  /** auditq queue rows: the workers' batches (from their heartbeats). */
  batches?: { size: number; ms: number; writeShare: number }
  samples: number[]
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—')
const pct1 = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)} %` : '—')
const pct = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${Math.round(n * 100)} %`)

function byRound(results: ScenarioResult[], id: string): Map<number, ScenarioResult> {
  return new Map(results.filter((r) => r.id === id && !r.problem).map((r) => [r.round, r]))
}

function ratioMedian(results: ScenarioResult[], num: string, den: string): number | undefined {
  const a = byRound(results, num)
  const b = byRound(results, den)
  const ratios = [...a].filter(([round]) => b.has(round)).map(([round, r]) => r.eventsPerSecond / b.get(round)!.eventsPerSecond)
  return ratios.length > 0 ? median(ratios) : undefined
}

export function summarizeAll(defs: ScenarioDef[], results: ScenarioResult[], settings: RunSettings): Summary[] {
  const out: Summary[] = []
  for (const def of defs) {
    const mine = results.filter((r) => r.id === def.id && !r.problem)
    if (mine.length === 0) continue
    const m = (f: (r: ScenarioResult) => number) => median(mine.map(f))
    const cpuUsPerEvent = Object.fromEntries(ROLES.map((role) => [role, m((r) => (r.cpu.seconds[role] * 1e6) / r.events)])) as Record<Role, number>
    const ref = def.kind === 'baseline' ? (def.id === 'insert' ? 'direct' : `queue-${settings.baselineWorkers}`) : undefined
    const times = ref ? ratioMedian(results, ref, def.id) : undefined
    const ofCeiling = def.kind === 'ceiling' || def.kind === 'latency' ? undefined : ratioMedian(results, def.id, 'copy')
    out.push({
      id: def.id,
      label: def.label,
      setup: def.describe(settings),
      kind: def.kind,
      rounds: mine.length,
      eventsPerSecond: m((r) => r.eventsPerSecond),
      acceptedPerSecond: m((r) => r.acceptedPerSecond),
      tailMs: m((r) => r.tailMs),
      p50: m((r) => r.latency.p50),
      p99: m((r) => r.latency.p99),
      p999: m((r) => r.latency.p999),
      max: m((r) => r.latency.max),
      ...(mine[0]!.lag ? { lagP99: m((r) => r.lag!.p99) } : {}),
      ...(mine.every((r) => r.stalls)
        ? {
            stalls: {
              perSecond: m((r) => r.stalls!.stalls / r.stalls!.seconds),
              stalledMsPerSecond: m((r) => r.stalls!.stalledMs / r.stalls!.seconds),
              waitingShare: m((r) => r.stalls!.waitingForCpuMs / r.stalls!.stalledMs),
              gcMsPerSecond: m((r) => r.stalls!.gcMs / r.stalls!.seconds),
              longGcPerSecond: m((r) => r.stalls!.longGcPauses / r.stalls!.seconds),
            },
          }
        : {}),
      runQueueWait: m((r) => r.cpu.producerRunQueueWaitSeconds / r.cpu.wallSeconds),
      ...(ofCeiling !== undefined ? { ofCeiling } : {}),
      ...(ref && times !== undefined ? { auditqTimes: { ref, times } } : {}),
      cpuUsPerEvent,
      machineBusy: m((r) => r.cpu.machineSeconds / (r.cpu.wallSeconds * settings.cores)),
      backgroundCores: m((r) => r.cpu.seconds.other / r.cpu.wallSeconds),
      ...(mine.every((r) => (r.figures.worker_batches ?? 0) > 0)
        ? {
            batches: {
              size: m((r) => r.events / r.figures.worker_batches!),
              ms: m((r) => r.figures.worker_avg_batch_ms!),
              // Share of the run during which a worker had a write (insert + acknowledgement) in flight.
              writeShare: m((r) => (r.figures.worker_batches! * r.figures.worker_avg_batch_ms!) / 1000 / (r.cpu.wallSeconds * r.figures.worker_processes!)),
            },
          }
        : {}),
      samples: mine.map((r) => Math.round(r.eventsPerSecond)),
    })
  }
  return out
}

export interface Target {
  name: string
  goal: string
  measured: string
  met: boolean | undefined
}

export function targets(summaries: Summary[], results: ScenarioResult[], settings: RunSettings): Target[] {
  const get = (id: string) => summaries.find((s) => s.id === id)
  const queue = ['queue-1', 'queue-2'].map(get).filter((s): s is Summary => s?.ofCeiling !== undefined)
  const bestQueue = [...queue].sort((a, b) => b.ofCeiling! - a.ofCeiling!)[0]
  const direct = get('direct')
  const open = get('queue-open')
  const failures = results.filter((r) => r.problem)
  const queue2 = get('queue-2')
  const plain = get('plain-stream')
  return [
    {
      name: 'queue mode, 2 worker processes, end-to-end',
      goal: '≥ 60 % of the COPY ceiling',
      measured: queue.length ? queue.map((q) => `${q.id.replace('queue-', '')} worker${q.id === 'queue-1' ? '' : 's'}: ${pct(q.ofCeiling)}`).join(', ') : 'not run',
      met: queue2?.ofCeiling !== undefined ? queue2.ofCeiling >= 0.6 : undefined,
    },
    {
      name: 'queue mode against the plain Redis Streams design',
      goal: 'ahead (2 workers each)',
      measured: queue2 && plain ? `${fmt(queue2.eventsPerSecond)} against ${fmt(plain.eventsPerSecond)} ev/s (${fmt(queue2.eventsPerSecond / plain.eventsPerSecond, 2)}×)` : 'not run',
      met: queue2 && plain ? queue2.eventsPerSecond > plain.eventsPerSecond : undefined,
    },
    {
      name: `direct mode, ${settings.concurrency} callers`,
      goal: '≥ 50 % of the COPY ceiling',
      measured: direct?.ofCeiling !== undefined ? pct(direct.ofCeiling) : 'not run',
      met: direct?.ofCeiling !== undefined ? direct.ofCeiling >= 0.5 : undefined,
    },
    {
      name: `queue-mode log() p99 at ${fmt(settings.rate)} events/s (open loop)`,
      goal: '≤ 2 ms',
      measured: open ? `${fmt(open.p99, 2)} ms (p50 ${fmt(open.p50, 2)}, p99.9 ${fmt(open.p999, 2)})` : 'not run',
      met: open ? open.p99 <= 2 : undefined,
    },
    {
      name: 'events lost or duplicated',
      goal: '0 in every run',
      measured: failures.length === 0 ? `0 in ${results.length} runs` : failures.map((f) => `${f.id} round ${f.round + 1}: ${f.problem}`).join('; '),
      met: failures.length === 0,
    },
  ]
}

export function tables(summaries: Summary[]): string {
  const throughputRows = summaries.filter((s) => s.kind !== 'latency')
  const latencyRows = summaries.filter((s) => s.kind === 'latency')
  const lines: string[] = []
  const row = (cells: string[]) => lines.push(`| ${cells.join(' | ')} |`)
  row(['system', 'setup', 'end-to-end ev/s', 'of COPY', 'ratio to auditq', 'log() p50 ms', 'p99 ms', 'p99.9 ms', 'accepted ev/s', 'tail s'])
  row(Array(10).fill('---'))
  for (const s of throughputRows) {
    const ratio = s.auditqTimes ? `auditq ${fmt(s.auditqTimes.times, 1)}× (${s.auditqTimes.ref})` : s.kind === 'ceiling' ? 'ceiling' : '—'
    const lat = s.kind === 'ceiling' ? ['—', '—', '—'] : [fmt(s.p50, 2), fmt(s.p99, 2), fmt(s.p999, 2)]
    row([s.label, s.setup, fmt(s.eventsPerSecond), s.kind === 'ceiling' ? '100 %' : pct(s.ofCeiling), ratio, ...lat, fmt(s.acceptedPerSecond), fmt(s.tailMs / 1000, 2)])
  }
  if (latencyRows.length > 0) {
    lines.push('')
    row(['system (open loop)', 'offered load', 'log() p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'start lag p99 ms', 'caller waited for a CPU', 'end-to-end ev/s'])
    row(Array(9).fill('---'))
    for (const s of latencyRows) {
      row([s.label, s.setup, fmt(s.p50, 2), fmt(s.p99, 2), fmt(s.p999, 2), fmt(s.max, 1), fmt(s.lagP99 ?? NaN, 2), pct1(s.runQueueWait), fmt(s.eventsPerSecond)])
    }
    const withStalls = latencyRows.filter((s) => s.stalls)
    if (withStalls.length > 0) {
      lines.push('')
      row(['caller event-loop stalls (open loop)', 'stalls > 3 ms per s', 'stalled ms per s', 'of which waiting for a CPU', 'GC pause ms per s', 'GC pauses > 2 ms per s'])
      row(Array(6).fill('---'))
      for (const s of withStalls) {
        const t = s.stalls!
        row([s.id, fmt(t.perSecond, 1), fmt(t.stalledMsPerSecond, 1), pct(t.waitingShare), fmt(t.gcMsPerSecond, 1), fmt(t.longGcPerSecond, 1)])
      }
    }
  }
  lines.push('')
  row(['CPU µs per event', 'producer (this process)', 'workers', 'PostgreSQL', 'Redis', 'total', 'machine busy', 'background load (cores)', 'worker batches: events / ms / write in flight'])
  row(Array(9).fill('---'))
  for (const s of summaries) {
    const c = s.cpuUsPerEvent
    row([s.id, fmt(c.producer), fmt(c.workers), fmt(c.postgres), fmt(c.redis), fmt(c.producer + c.workers + c.postgres + c.redis), pct(s.machineBusy), fmt(s.backgroundCores, 2), s.batches ? `${fmt(s.batches.size)} / ${fmt(s.batches.ms)} / ${pct(s.batches.writeShare)}` : ''])
  }
  return lines.join('\n')
}

/**
 * The chain's cost in queue mode, for each worker count run with both `queue-N-chain-on` and
 * `-off`: the cost of the medians; the median of the per-round costs (each chained run against
 * the unchained run beside it); and the CPU cost with the machine's speed taken out. That last one
 * exists because this shared machine's speed drifts by up to 2× from one 10-second run to the next
 * (the producer, whose work is the same in both arms, used 27–59 µs of CPU per event in one run
 * of 9 rounds), which swamps a 10 % difference in throughput. The producer's CPU per event is the
 * gauge: each run's total CPU per event is divided by it, and at saturation throughput goes as
 * the inverse of CPU per event, so per round the cost is 1 − (normalized unchained ÷ normalized
 * chained). Empty when no such pair ran.
 */
export function chainCostTable(summaries: Summary[], results: ScenarioResult[]): string {
  const lines = [
    '| workers | rounds | chained ev/s | unchained ev/s | cost of the medians | median paired cost | median paired CPU cost, machine speed taken out | CPU µs per event, chained / unchained |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const on of summaries) {
    const match = /^queue-(\d+)-chain-on$/.exec(on.id)
    const off = match && summaries.find((s) => s.id === `queue-${match[1]}-chain-off`)
    if (!match || !off) continue
    const paired = ratioMedian(results, on.id, off.id)
    const cpu = (s: Summary) => s.cpuUsPerEvent.producer + s.cpuUsPerEvent.workers + s.cpuUsPerEvent.postgres + s.cpuUsPerEvent.redis
    const cpuCost = pairedCpuCost(results, on.id, off.id)
    lines.push(
      `| ${match[1]} | ${Math.min(on.rounds, off.rounds)} | ${fmt(on.eventsPerSecond)} | ${fmt(off.eventsPerSecond)} | ${pct1(1 - on.eventsPerSecond / off.eventsPerSecond)} | ${paired === undefined ? '—' : pct1(1 - paired)} | ${cpuCost === undefined ? '—' : pct1(cpuCost)} | ${fmt(cpu(on))} / ${fmt(cpu(off))} |`,
    )
  }
  return lines.length > 2 ? lines.join('\n') : ''
}

/** Median over rounds of 1 − (unchained CPU ÷ its producer's CPU) ÷ (chained CPU ÷ its producer's CPU); see chainCostTable. */
export function pairedCpuCost(results: ScenarioResult[], on: string, off: string): number | undefined {
  const normalized = (r: ScenarioResult) => {
    const { producer, workers, postgres, redis } = r.cpu.seconds
    return (producer + workers + postgres + redis) / producer
  }
  const chained = byRound(results, on)
  const unchained = byRound(results, off)
  const costs = [...chained]
    .filter(([round, r]) => unchained.has(round) && r.cpu.seconds.producer > 0 && unchained.get(round)!.cpu.seconds.producer > 0)
    .map(([round, r]) => 1 - normalized(unchained.get(round)!) / normalized(r))
  return costs.length > 0 ? median(costs) : undefined
}

export function targetTable(list: Target[]): string {
  const lines = ['| target | goal | measured (median of rounds) | met |', '| --- | --- | --- | --- |']
  for (const t of list) lines.push(`| ${t.name} | ${t.goal} | ${t.measured} | ${t.met === undefined ? 'not run' : t.met ? 'yes' : '**no**'} |`)
  return lines.join('\n')
}

export const START = '<!-- bench:e2e:start (written by `npm run bench`; edit bench/e2e/report.ts instead) -->'
export const END = '<!-- bench:e2e:end -->'

/** Replaces the section between the markers, or inserts it before the first `## ` heading. */
export function writeSection(path: string, section: string): void {
  const text = readFileSync(path, 'utf8')
  const block = `${START}\n${section.trim()}\n${END}`
  const start = text.indexOf('<!-- bench:e2e:start')
  const end = text.indexOf(END)
  let next: string
  if (start !== -1 && end > start) next = text.slice(0, start) + block + text.slice(end + END.length)
  else {
    const heading = text.indexOf('\n## ')
    next = heading === -1 ? `${text.trimEnd()}\n\n${block}\n` : `${text.slice(0, heading + 1)}${block}\n\n${text.slice(heading + 1)}`
  }
  writeFileSync(path, next)
}
