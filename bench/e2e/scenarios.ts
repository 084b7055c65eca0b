/**
 * One scenario = one system, one load, one fresh fixture, one result. Throughput scenarios offer
 * `events` calls from `concurrency` closed-loop callers and stop the clock when the table holds
 * them all; latency scenarios offer a fixed rate (open loop). Every scenario ends by checking the
 * table's ids against the logged ones.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import { from as copyFrom } from 'pg-copy-streams'
import { CpuMeter, readProcs, type CpuSplit } from './cpu.js'
import { driveClosed, driveOpen, summarize, waitCommitted, type LatencySummary, type Produced } from './drive.js'
import type { LoopStalls } from './loop-stalls.js'
import { openFixture, verify, verificationProblem, type BenchTarget, type Verification } from './fixture.js'
import { progress } from './progress.js'
import { COPY_SQL, copyLine } from './rows.js'
import { searchDocuments } from '../../src/store/postgres/sql.js'
import { auditqDirect, auditqQueue, auditqQueueChain, bullmq, insertPerEvent, plainStream, redisList, validated, type System, type SystemContext } from './systems.js'

export interface RunSettings {
  target: BenchTarget
  events: number
  slowEvents: number
  concurrency: number
  rate: number
  openSeconds: number
  baselineWorkers: number
  cores: number
  /** Directory for .cpuprofile files, or undefined. */
  profileDir: string | undefined
  /** Open-loop rows record the caller's event-loop stalls (`--loop-stalls`). */
  loopStalls: boolean
  /**
   * `--drain-after-calls`: the worker processes are stopped (SIGSTOP) while the calls are made and
   * resumed after, so `log()` is timed with only Redis beside the caller, as when the workers and
   * the database run on other machines. End-to-end figures then include the whole drain.
   */
  drainAfterCalls: boolean
}

export interface ScenarioResult {
  id: string
  round: number
  events: number
  /** End-to-end: events ÷ (first call → every event committed). */
  eventsPerSecond: number
  /** Calls ÷ (first call → last answer): how fast `log()` accepted them. */
  acceptedPerSecond: number
  /** Last answer → last commit: what the queue still held when the producer was done. */
  tailMs: number
  latency: LatencySummary
  /** Open loop: lateness of call starts against the schedule. */
  lag?: LatencySummary
  /** Open loop with --loop-stalls: the caller's event-loop stalls. */
  stalls?: LoopStalls
  cpu: CpuSplit
  verification: Verification
  figures: Record<string, number>
  problem?: string
}

export interface ScenarioDef {
  id: string
  label: string
  /** What a reader compares it with ('copy' = the ceiling). */
  kind: 'ceiling' | 'auditq' | 'baseline' | 'latency'
  /** Run only when named in --scenarios (not part of the full run and its BENCHMARKS.md section). */
  optIn?: boolean
  describe(settings: RunSettings): string
  run(settings: RunSettings, round: number): Promise<ScenarioResult>
}

type SystemFactory = (ctx: SystemContext) => Promise<System>

function throughput(id: string, label: string, kind: ScenarioDef['kind'], factory: SystemFactory, opts: { workers?: number | 'baseline'; slow?: boolean; describe: (s: RunSettings) => string }): ScenarioDef {
  return {
    id,
    label,
    kind,
    describe: opts.describe,
    run: (settings, round) =>
      measure(settings, round, id, factory, {
        workers: opts.workers === 'baseline' ? settings.baselineWorkers : opts.workers ?? 0,
        drive: (log) => driveClosed(opts.slow ? settings.slowEvents : settings.events, settings.concurrency, log),
        events: opts.slow ? settings.slowEvents : settings.events,
      }),
  }
}

function openLoop(id: string, label: string, factory: SystemFactory, workers: number): ScenarioDef {
  return {
    id,
    label,
    kind: 'latency',
    describe: (s) => `${s.rate.toLocaleString('en-US')} calls/s for ${s.openSeconds} s, ${workers} worker process`,
    run: (settings, round) =>
      measure(settings, round, id, factory, {
        workers,
        drive: (log) => driveOpen(settings.rate, settings.openSeconds, log, { recordStalls: settings.loopStalls }),
        events: Math.round(settings.rate * settings.openSeconds),
      }),
  }
}

export const SCENARIOS: ScenarioDef[] = [
  {
    id: 'copy',
    label: '(d) ceiling: one raw COPY of the same rows',
    kind: 'ceiling',
    describe: (s) => `${s.events.toLocaleString('en-US')} pre-validated rows, one COPY FROM STDIN on one connection`,
    run: (settings, round) => measureCopy(settings, round),
  },
  throughput('direct', 'auditq direct mode', 'auditq', auditqDirect, {
    describe: (s) => `${s.concurrency} callers, group commit, pool of 10`,
  }),
  throughput('queue-1', 'auditq queue mode, 1 worker process', 'auditq', auditqQueue, {
    workers: 1,
    describe: (s) => `${s.concurrency} callers; \`auditq worker --processes 1\``,
  }),
  throughput('queue-2', 'auditq queue mode, 2 worker processes', 'auditq', auditqQueue, {
    workers: 2,
    describe: (s) => `${s.concurrency} callers; \`auditq worker --processes 2\``,
  }),
  throughput('insert', '(a) one INSERT per event', 'baseline', insertPerEvent, {
    slow: true,
    describe: (s) => `${s.concurrency} callers, pool of 10, ${s.slowEvents.toLocaleString('en-US')} events`,
  }),
  throughput('redis-list', "(b) Redis-list design (LLEN+LPUSH, BRPOP, adaptive multi-row INSERT)", 'baseline', redisList, {
    workers: 'baseline',
    describe: (s) => `${s.concurrency} callers; ${s.baselineWorkers} worker processes`,
  }),
  throughput('plain-stream', '(e) plain Redis Streams design (XADD; XREADGROUP of 1,000, one unnest INSERT, XACK; no chain, search or recovery)', 'baseline', plainStream, {
    workers: 'baseline',
    describe: (s) => `${s.concurrency} callers; ${s.baselineWorkers} worker processes`,
  }),
  throughput('bullmq', "(c) BullMQ, one job and one INSERT per event (a BullMQ processor)", 'baseline', bullmq, {
    workers: 'baseline',
    slow: true,
    describe: (s) => `${s.concurrency} callers; ${s.baselineWorkers} worker processes × concurrency 2, ${s.slowEvents.toLocaleString('en-US')} events`,
  }),
  // The chain's cost in queue mode (BENCHMARKS.md, "Hash chain"): the same worker script, chaining on and off.
  ...[2, 4].flatMap((workers) =>
    (['on', 'off'] as const).map((chain) => ({
      ...throughput(`queue-${workers}-chain-${chain}`, `queue mode, ${workers} worker processes, chain ${chain}`, 'auditq', auditqQueueChain(chain), {
        workers,
        describe: (s) => `${s.concurrency} callers; bench/e2e/queue-worker.ts --processes ${workers} --chain ${chain}`,
      }),
      optIn: true,
    })),
  ),
  openLoop('queue-open', 'auditq queue mode, open loop', auditqQueue, 1),
  openLoop('redis-list-open', "(b) Redis-list design, open loop", redisList, 1),
  openLoop('direct-open', 'auditq direct mode, open loop', auditqDirect, 0),
  {
    id: 'ping-open',
    label: 'floor: one bare Redis round trip (PING), open loop',
    kind: 'latency',
    describe: (s) => `${s.rate.toLocaleString('en-US')} calls/s for ${s.openSeconds} s, nothing else running`,
    run: (settings, round) => measurePing(settings, round),
  },
]

interface MeasureOptions {
  workers: number
  events: number
  drive: (log: System['log']) => Promise<Produced>
}

async function measure(settings: RunSettings, round: number, id: string, factory: SystemFactory, options: MeasureOptions): Promise<ScenarioResult> {
  const fixture = await openFixture(settings.target, id)
  const profile = profiling(settings, id, round)
  let system: System | undefined
  try {
    system = await factory({
      target: settings.target,
      fixture,
      tag: `${id}-${round}-`,
      workers: options.workers,
      capEvents: Math.max(10_000, options.events),
      workerNodeArgs: profile.workerNodeArgs,
    })
    const running = system
    const meter = new CpuMeter(() => running.workerPids())
    let answered = 0
    const log = (i: number) => running.log(i).finally(() => answered++)
    const ticker = setInterval(() => progress.update(`  ${label(id, round)}: ${answered.toLocaleString('en-US')}/${options.events.toLocaleString('en-US')} answered`), 250)
    await profile.start()
    meter.start()
    let produced: Produced
    const paused = settings.drainAfterCalls ? processTrees(running.workerPids()) : []
    signalAll(paused, 'SIGSTOP')
    try {
      produced = await options.drive(log)
    } finally {
      clearInterval(ticker)
      signalAll(paused, 'SIGCONT')
    }
    if (produced.errors > 0) throw new Error(`${produced.errors} log() calls failed; first: ${String(produced.firstError)}`)
    const { committedAt } = running.acknowledgesCommit
      ? { committedAt: produced.producedAt }
      : await waitCommitted(fixture.observer, produced.ids.length, produced.startedAt, {
          stallMs: 20_000,
          isAlive: () => running.deadWorker(),
          onProgress: (rows) => progress.update(`  ${label(id, round)}: ${rows.toLocaleString('en-US')}/${produced.ids.length.toLocaleString('en-US')} committed`),
        })
    const cpu = meter.stop()
    await profile.stop()
    const figures = { ...running.figures(), ...(await running.workerFigures?.(produced.ids.length)) }
    system = undefined
    await running.close()
    const verification = await verify(fixture.observer, produced.ids)
    const seconds = (committedAt - produced.startedAt) / 1000
    const problems = [verificationProblem(verification), ...Object.entries(figures).filter(([k, v]) => SHOULD_BE_ZERO.has(k) && v > 0).map(([k, v]) => `${k}: ${v}`)]
    return {
      id,
      round,
      events: produced.ids.length,
      eventsPerSecond: produced.ids.length / seconds,
      acceptedPerSecond: produced.ids.length / ((produced.producedAt - produced.startedAt) / 1000),
      tailMs: committedAt - produced.producedAt,
      latency: summarize(produced.latenciesMs),
      ...(produced.lagMs ? { lag: summarize(produced.lagMs) } : {}),
      ...(produced.stalls ? { stalls: produced.stalls } : {}),
      cpu,
      verification,
      figures,
      ...(problems.some(Boolean) ? { problem: problems.filter(Boolean).join('; ') } : {}),
    }
  } finally {
    await system?.close().catch(() => undefined)
    await fixture.dispose()
  }
}

/** `roots` and every process descended from them. */
function processTrees(roots: readonly number[]): number[] {
  const procs = readProcs()
  const found = new Set(roots)
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, proc] of procs) {
      if (!found.has(pid) && found.has(proc.ppid)) {
        found.add(pid)
        grew = true
      }
    }
  }
  return [...found]
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // exited since the process list was read
    }
  }
}

/** Figures that mean the run did not measure what it claims (events spilled, dropped, failed). */
const SHOULD_BE_ZERO = new Set(['overflowed', 'spilled', 'queueUnavailable', 'refused', 'failed', 'dropped'])

async function measureCopy(settings: RunSettings, round: number): Promise<ScenarioResult> {
  const fixture = await openFixture(settings.target, 'copy')
  const profile = profiling(settings, 'copy', round)
  const client = new pg.Client({ connectionString: settings.target.databaseUrl, options: `-c search_path=${fixture.schema}` })
  try {
    await client.connect()
    const tag = `copy-${round}-`
    const events = Array.from({ length: settings.events }, (_, i) => validated(i, tag))
    // Computed before the clock, like validation: the ceiling is the database's cost of the rows.
    const docs = searchDocuments(events)
    const meter = new CpuMeter(() => [])
    await profile.start()
    meter.start()
    const startedAt = performance.now()
    // ~64 KiB per chunk: few enough stream writes that Node is not what is measured.
    async function* lines() {
      let chunk = ''
      for (const [i, event] of events.entries()) {
        chunk += copyLine(event, docs[i]!)
        if (chunk.length > 65_536) {
          yield chunk
          chunk = ''
        }
      }
      if (chunk) yield chunk
    }
    await pipeline(Readable.from(lines()), client.query(copyFrom(COPY_SQL)))
    const committedAt = performance.now()
    const cpu = meter.stop()
    await profile.stop()
    const verification = await verify(fixture.observer, events.map((e) => e.id))
    const problem = verificationProblem(verification)
    const seconds = (committedAt - startedAt) / 1000
    return {
      id: 'copy',
      round,
      events: events.length,
      eventsPerSecond: events.length / seconds,
      acceptedPerSecond: events.length / seconds,
      tailMs: 0,
      latency: { p50: NaN, p99: NaN, p999: NaN, max: NaN },
      cpu,
      verification,
      figures: {},
      ...(problem ? { problem } : {}),
    }
  } finally {
    await client.end().catch(() => undefined)
    await fixture.dispose()
  }
}

/**
 * The floor for queue-mode `log()` latency on this machine: the same open-loop scheduler making
 * one bare Redis round trip per call, with no worker or database busy. Its p99 is what the
 * machine's scheduling noise (timers, GC, other processes on the shared cores) adds to any
 * Redis-backed call.
 */
async function measurePing(settings: RunSettings, round: number): Promise<ScenarioResult> {
  const redis = new Redis(settings.target.redisUrl)
  try {
    await redis.ping()
    const meter = new CpuMeter(() => [])
    meter.start()
    const produced = await driveOpen(
      settings.rate,
      settings.openSeconds,
      async (i) => {
        await redis.ping()
        return String(i)
      },
      { recordStalls: settings.loopStalls },
    )
    const cpu = meter.stop()
    if (produced.errors > 0) throw new Error(`${produced.errors} PINGs failed; first: ${String(produced.firstError)}`)
    const n = produced.ids.length
    const perSecond = n / ((produced.producedAt - produced.startedAt) / 1000)
    return {
      id: 'ping-open',
      round,
      events: n,
      eventsPerSecond: perSecond,
      acceptedPerSecond: perSecond,
      tailMs: 0,
      latency: summarize(produced.latenciesMs),
      ...(produced.lagMs ? { lag: summarize(produced.lagMs) } : {}),
      ...(produced.stalls ? { stalls: produced.stalls } : {}),
      cpu,
      verification: { expected: n, rows: n, lost: 0, unexpected: 0, duplicated: 0 },
      figures: {},
    }
  } finally {
    redis.disconnect()
  }
}

function label(id: string, round: number): string {
  return `round ${round + 1} ${id}`
}

/** With --cpu-prof-dir: this process through the inspector, spawned workers with --cpu-prof. */
function profiling(settings: RunSettings, id: string, round: number) {
  if (!settings.profileDir) return { workerNodeArgs: [] as string[], start: async () => undefined, stop: async () => undefined }
  const base = join(settings.profileDir, `${id}-r${round + 1}`)
  mkdirSync(join(base, 'workers'), { recursive: true })
  const session = new Session()
  return {
    workerNodeArgs: ['--cpu-prof', '--cpu-prof-dir', join(base, 'workers')],
    async start() {
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 1000 })
      await session.post('Profiler.start')
    },
    async stop() {
      const { profile } = await session.post('Profiler.stop')
      writeFileSync(join(base, 'producer.cpuprofile'), JSON.stringify(profile))
      session.disconnect()
    },
  }
}
