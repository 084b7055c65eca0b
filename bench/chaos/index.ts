/**
 * `npm run chaos`: a fault-injection campaign against real servers and real `auditq` processes
 * (the built CLI and library in dist/). One Markdown row per scenario: sent, acknowledged, stored,
 * lost (acknowledged, not stored), duplicated, drain time, what health said, and a verdict against
 * the README's guarantees. Long by design, so it is not part of `npm test`.
 *
 *   npm run chaos -- [--scenarios a,b] [--seconds N] [--quick] [--keep-logs] [--list]
 */
import { existsSync } from 'node:fs'
import { cleanupAll, installExitHandlers, keepScenarioLogs } from './cleanup.js'
import type { Row } from './campaign.js'
import { CLI } from './processes.js'
import { SCENARIOS } from './scenarios.js'

interface Args {
  scenarios: string[] | undefined
  seconds: number
  quick: boolean
  list: boolean
  keepLogs: boolean
}

function parseArgs(argv: string[]): Args {
  const args: Args = { scenarios: undefined, seconds: 40, quick: false, list: false, keepLogs: false }
  let secondsGiven = false
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    if (flag === '--scenarios') args.scenarios = value().split(',').map((s) => s.trim()).filter(Boolean)
    else if (flag === '--seconds') {
      args.seconds = Number(value())
      secondsGiven = true
      if (!Number.isFinite(args.seconds) || args.seconds < 10 || args.seconds > 600) throw new Error('--seconds must be a number from 10 to 600')
    } else if (flag === '--quick') args.quick = true
    else if (flag === '--list') args.list = true
    else if (flag === '--keep-logs') args.keepLogs = true
    else if (flag === '--help' || flag === '-h') args.list = true
    else throw new Error(`unknown option ${flag} (options: --scenarios a,b  --seconds N  --quick  --keep-logs  --list)`)
  }
  if (args.quick && !secondsGiven) args.seconds = 20
  const known = new Set(SCENARIOS.map((s) => s.name))
  const unknown = (args.scenarios ?? []).filter((name) => !known.has(name))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${[...known].join(', ')}`)
  return args
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '?')
const cell = (text: string) => text.replace(/\|/g, '\\|')

function table(rows: Row[]): string {
  const head = '| scenario | sent | acknowledged | stored | lost | duplicated | drain | health during | health after | verdict |\n|---|---:|---:|---:|---:|---:|---:|---|---|---|'
  const lines = rows.map((r) => {
    const drain = r.drainSeconds === undefined ? '—' : r.drainSeconds === null ? 'not drained' : `${r.drainSeconds.toFixed(1)} s`
    return `| ${r.scenario} | ${fmt(r.sent)} | ${fmt(r.acked)} | ${fmt(r.stored)} | ${fmt(r.lost)} | ${fmt(r.duplicated)} | ${drain} | ${cell(r.healthDuring)} | ${cell(r.healthAfter)} | ${r.verdict} |`
  })
  return [head, ...lines].join('\n')
}

function notes(rows: Row[]): string {
  return rows.map((r) => `- **${r.scenario}**: ${r.notes.map(cell).join('; ')}`).join('\n')
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.list) {
    process.stdout.write(`npm run chaos -- [--scenarios a,b] [--seconds N (default 40, --quick 20)] [--quick] [--keep-logs]\n\nscenarios:\n${SCENARIOS.map((s) => `  ${s.name.padEnd(22)} ${s.what}`).join('\n')}\n`)
    return 0
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`)
  installExitHandlers()
  if (args.keepLogs) keepScenarioLogs()
  const chosen = SCENARIOS.filter((s) => !args.scenarios || args.scenarios.includes(s.name))
  const rows: Row[] = []
  const started = Date.now()
  for (const scenario of chosen) {
    const reason = scenario.skip?.()
    const empty = { sent: Number.NaN, acked: Number.NaN, stored: Number.NaN, lost: Number.NaN, duplicated: Number.NaN, drainSeconds: undefined, healthDuring: '—', healthAfter: '—' }
    if (reason) {
      rows.push({ scenario: scenario.name, ...empty, verdict: 'skipped', notes: [reason] })
      process.stderr.write(`chaos: ${scenario.name} skipped: ${reason}\n`)
      continue
    }
    process.stderr.write(`chaos: ${scenario.name} (${args.seconds} s of load): ${scenario.what}\n`)
    const t0 = Date.now()
    try {
      const row = await scenario.run({ seconds: args.seconds, quick: args.quick })
      rows.push(row)
      process.stderr.write(`chaos: ${scenario.name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s: acked ${row.acked}, lost ${row.lost}, ${row.verdict}\n`)
    } catch (error) {
      // A scenario that could not run is a suite failure, reported as such (not as a finding).
      rows.push({ scenario: scenario.name, ...empty, verdict: 'ERROR (suite)', notes: [(error as Error).message.split('\n')[0]!] })
      process.stderr.write(`chaos: ${scenario.name} failed to run: ${(error as Error).stack}\n`)
    }
  }
  process.stdout.write(`\n${table(rows)}\n\nNotes:\n${notes(rows)}\n\n(${chosen.length} scenarios, ${((Date.now() - started) / 60_000).toFixed(1)} min, ${new Date().toISOString()})\n`)
  cleanupAll()
  return rows.some((r) => r.verdict === 'VIOLATION' || r.verdict.startsWith('ERROR')) ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).message}\n`)
    cleanupAll()
    process.exit(2)
  },
)
