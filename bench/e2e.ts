/**
 * End-to-end benchmark: auditq in direct mode and in queue mode with 1 and 2 worker
 * processes, against the designs people would otherwise pick — one INSERT per event, a Redis
 * list, BullMQ with one job per event, a plain Redis Streams pipeline — and the ceiling, a raw
 * COPY of the rows auditq stores (search document included), all in the same run, on the same
 * ~520-byte events, into the same table with the same indexes (a fresh schema migrated by the
 * real store for every scenario).
 *
 *   npm run bench                    # full: 3 rounds, writes the section in BENCHMARKS.md
 *   npm run bench -- --quick         # smoke run: small counts, 1 round, writes nothing
 *   npm run bench -- --scenarios copy,queue-2 --runs 1 --no-write
 *   npm run bench -- --cpu-prof-dir /tmp/prof --scenarios queue-2 --runs 1 --no-write
 *   node dist-bench/bench/e2e/profile-summary.js /tmp/prof
 *   npm run bench -- --scenarios queue-open,ping-open --loop-stalls   # why open-loop answers come late
 *   npm run bench -- --scenarios queue-open --drain-after-calls        # log() with the workers stopped meanwhile
 *
 * End-to-end throughput = events ÷ (first `log()` → every event committed, seen by polling the
 * table). Each round runs every scenario once, in an order rotated per round; the tables give
 * medians over rounds, and ratios are taken within a round. Progress goes to stderr; the tables
 * and the raw results (JSON) to stdout. Exits 1, and writes nothing, if any event was lost or
 * duplicated, or a scenario failed.
 */
import { cpus, loadavg, totalmem } from 'node:os'
import { readFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Redis } from 'ioredis'
import { progress } from './e2e/progress.js'
import { chainCostTable, summarizeAll, tables, targets, targetTable, writeSection } from './e2e/report.js'
import { SCENARIOS, type RunSettings, type ScenarioResult } from './e2e/scenarios.js'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    events: { type: 'string' },
    'slow-events': { type: 'string' },
    concurrency: { type: 'string', default: '128' },
    rate: { type: 'string', default: '5000' },
    'open-seconds': { type: 'string' },
    'baseline-workers': { type: 'string', default: '2' },
    scenarios: { type: 'string', default: SCENARIOS.filter((s) => !s.optIn).map((s) => s.id).join(',') },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'redis-url': { type: 'string', default: process.env.AUDITQ_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'no-write': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    'cpu-prof-dir': { type: 'string' },
    'loop-stalls': { type: 'boolean', default: false },
    'drain-after-calls': { type: 'boolean', default: false },
    markdown: { type: 'string', default: fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)) },
  },
})

const quick = args.quick
const runs = Number(args.runs ?? (quick ? 1 : 3))
const settings: RunSettings = {
  target: { databaseUrl: args['database-url'], redisUrl: args['redis-url'] },
  events: Number(args.events ?? (quick ? 5_000 : 100_000)),
  slowEvents: Number(args['slow-events'] ?? (quick ? 2_000 : 30_000)),
  concurrency: Number(args.concurrency),
  rate: Number(args.rate),
  openSeconds: Number(args['open-seconds'] ?? (quick ? 2 : 10)),
  baselineWorkers: Number(args['baseline-workers']),
  cores: cpus().length,
  profileDir: args['cpu-prof-dir'],
  loopStalls: args['loop-stalls'],
  drainAfterCalls: args['drain-after-calls'],
}
// A profiled or stall-recording run carries its instruments' cost: it does not replace the section.
const write = args.write || (!quick && !args['no-write'] && !args['cpu-prof-dir'] && !args['loop-stalls'] && !args['drain-after-calls'])
const wanted = args.scenarios.split(',')
const unknown = wanted.filter((id) => !SCENARIOS.some((s) => s.id === id))
if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`)
const defs = SCENARIOS.filter((s) => wanted.includes(s.id))

const cli = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url))
if (defs.some((d) => d.id.startsWith('queue')) && !existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm run bench does)`)

const machine = await describeMachine(settings)
progress.log(`bench: ${defs.length} scenarios × ${runs} round(s); ${machine}`)
const results: ScenarioResult[] = []
const started = Date.now()
for (let round = 0; round < runs; round++) {
  // Rotate the order each round so drift on a shared machine favours no scenario.
  const order = defs.map((_, i) => defs[(i + round) % defs.length]!)
  for (const [n, def] of order.entries()) {
    progress.update(`round ${round + 1}/${runs}, ${n + 1}/${order.length}: ${def.id} starting`)
    let result: ScenarioResult
    try {
      result = await def.run(settings, round)
    } catch (error) {
      result = failed(def.id, round, error)
    }
    results.push(result)
    const elapsed = Math.round((Date.now() - started) / 1000)
    progress.log(
      result.problem
        ? `round ${round + 1}/${runs} ${def.id}: FAILED — ${result.problem}`
        : `round ${round + 1}/${runs} ${def.id}: ${Math.round(result.eventsPerSecond).toLocaleString('en-US')} ev/s end-to-end, log() p99 ${result.latency.p99.toFixed(2)} ms, ${result.verification.rows.toLocaleString('en-US')} rows verified [${elapsed} s]`,
    )
  }
}

const summaries = summarizeAll(defs, results, settings)
const goals = targets(summaries, results, settings)
const chainCost = chainCostTable(summaries, results)
const body = `${tables(summaries)}\n\n${chainCost ? `Hash chain in queue mode:\n\n${chainCost}\n\n` : ''}Targets:\n\n${targetTable(goals)}\n`
process.stdout.write(`\n${body}\n`)
process.stdout.write(JSON.stringify({ bench: 'e2e', settings: { ...settings, target: undefined }, runs, machine, results }) + '\n')

const failures = results.filter((r) => r.problem)
if (failures.length > 0) {
  process.stderr.write(`\n!!! BENCH FAILED: ${failures.length} run(s) lost, duplicated or failed events — nothing written:\n`)
  for (const f of failures) process.stderr.write(`!!!   ${f.id} round ${f.round + 1}: ${f.problem}\n`)
  process.exitCode = 1
} else if (write) {
  writeSection(args.markdown, markdownSection(body))
  progress.log(`wrote the results to ${args.markdown}`)
}

function failed(id: string, round: number, error: unknown): ScenarioResult {
  const nan = { p50: NaN, p99: NaN, p999: NaN, max: NaN }
  return {
    id,
    round,
    events: 0,
    eventsPerSecond: NaN,
    acceptedPerSecond: NaN,
    tailMs: NaN,
    latency: nan,
    cpu: { seconds: { producer: 0, workers: 0, postgres: 0, redis: 0, other: 0 }, machineSeconds: 0, wallSeconds: 0, producerRunQueueWaitSeconds: 0, apartSeconds: 0 },
    verification: { expected: 0, rows: 0, lost: 0, unexpected: 0, duplicated: 0 },
    figures: {},
    problem: error instanceof Error ? error.message : String(error),
  }
}

async function describeMachine(s: RunSettings): Promise<string> {
  const model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU'
  const client = new pg.Client({ connectionString: s.target.databaseUrl })
  await client.connect()
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version')
  const sync = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')
  await client.end()
  const redis = new Redis(s.target.redisUrl)
  const info = await redis.info('server')
  const persistence = await redis.config('GET', 'appendonly')
  redis.disconnect()
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?'
  return (
    `${s.cores} vCPU ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
    `PostgreSQL ${rows[0]!.server_version.split(' ')[0]} (synchronous_commit=${sync.rows[0]!.synchronous_commit}, same host), ` +
    `Redis ${redisVersion} (appendonly ${(persistence as string[])[1]}, same host); load average at start ${loadavg()[0]!.toFixed(2)}`
  )
}

function markdownSection(tablesAndTargets: string): string {
  const extra = process.argv.slice(2).filter((a) => a !== '--write')
  const command = `npm run bench${extra.length ? ` -- ${extra.join(' ')}` : ''}`
  return `## End to end: direct mode, queue mode and the alternatives, in one run

\`\`\`sh
${command}
\`\`\`

Machine: ${machine}. Run ${new Date().toISOString().slice(0, 10)}, ${runs} rounds (every scenario once per round, order rotated), medians shown.

What each row does (\`bench/e2e.ts\`, \`bench/e2e/\`): every scenario gets a fresh PostgreSQL schema migrated by the
real store (the production \`audit_logs\` table with its seven indexes; autovacuum off on it and a
\`CHECKPOINT\` before, so no row pays for another's dirty pages), fresh Redis keys, and the same
~520-byte event (\`bench/event.ts\`). Closed-loop rows offer ${settings.events.toLocaleString('en-US')} events (rows marked with a count: fewer,
they are slow) from ${settings.concurrency} concurrent callers; **end-to-end ev/s** is events ÷ (first \`log()\` → every
event committed, found by polling \`count(*)\`); **accepted ev/s** is how fast \`log()\` answered; **tail** is
last answer → last commit. Worker processes are real processes started before the clock
(\`node dist/cli/index.js worker --processes N\`, or the baselines' worker scripts). The queue cap (and the
Redis-list design's \`MAX_QUEUE_LENGTH\`) is raised to the run's event count, so no row overflows, spills or drops;
a row that did would fail the run. Ratios are taken within each round, then the median.
Every run ends by comparing the table's ids with the logged ids: a lost, unexpected or duplicated
event fails the bench (a run with any such event writes nothing here and exits 1). The COPY ceiling is timed from the first byte to the commit of one
\`COPY FROM STDIN\` of rows validated beforehand. The CPU table reads /proc: "producer" is the
benchmark process (the application calling \`log()\`), "workers" the spawned worker processes;
"background load" is what other processes on the machine used meanwhile (it was not idle), and "caller
waited for a CPU" is the share of the open-loop run the caller's event loop was runnable but not
running (\`/proc/self/schedstat\`). The per-store direct-mode table further down is \`npm run bench:direct\`
(it was \`npm run bench\` before this section existed); \`npm run bench -- --quick\` is a smoke run.

${tablesAndTargets}`
}
