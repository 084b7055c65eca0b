import { appendFileSync } from 'node:fs'
import fc from 'fast-check'

/**
 * How hard the fuzz properties run. The defaults keep `test/property` well under a minute of CI; a
 * campaign raises them from the environment without touching a property:
 *
 *   AUDITQ_FUZZ_RUNS=200000 npx vitest run test/property
 *                                                      cases per property (a property costing
 *                                                      k requests per case runs RUNS / k)
 *   AUDITQ_FUZZ_SECONDS=280                            stop each property after this long; reaching
 *                                                      it is not a failure (the tally says how far it got)
 *   AUDITQ_FUZZ_SEED=-1234 AUDITQ_FUZZ_PATH="12:3"     replay the counterexample a failure printed
 *   AUDITQ_FUZZ_STRICT=1                               fail on the known, reported bugs too
 *   AUDITQ_FUZZ_REPORT=/tmp/fuzz.jsonl                 append each property's per-class counts
 *   AUDITQ_FUZZ_POSTGRES_QUERIES=0                     skip the query property over PostgreSQL (on by default
 *                                                      since out-of-range times and NUL in filters are 400s)
 *
 * Long campaigns: give the heap room (NODE_OPTIONS=--max-old-space-size=8192). light-my-request
 * retains ~9 KiB per injected request whose body is never read (every GET), so a campaign of a
 * few hundred thousand queries holds a few GiB that the service itself does not.
 */
const env = process.env

const RUNS_OVERRIDE = positiveNumber('AUDITQ_FUZZ_RUNS')
const SECONDS_OVERRIDE = positiveNumber('AUDITQ_FUZZ_SECONDS')
const SEED = env.AUDITQ_FUZZ_SEED === undefined ? undefined : Number(env.AUDITQ_FUZZ_SEED)
const PATH = env.AUDITQ_FUZZ_PATH

/** True when the known, already-reported product bugs must fail the run instead of being counted. */
export const STRICT = env.AUDITQ_FUZZ_STRICT === '1'

/** Fuzz GET /v1/events and export over PostgreSQL too. */
export const POSTGRES_QUERIES = env.AUDITQ_FUZZ_POSTGRES_QUERIES !== '0'

/** True when a campaign asked for more than the CI defaults. */
export const CAMPAIGN = RUNS_OVERRIDE !== undefined || SECONDS_OVERRIDE !== undefined

export interface Budget {
  /** Cases in CI. */
  ciRuns: number
  /** Requests (or validations) one case costs relative to the cheapest property; divides a campaign's RUNS. */
  cost?: number
  /**
   * A CI safety net: on a machine much slower than the dev box the property stops here instead of
   * blowing the test timeout. The tally printed at the end shows how many cases actually ran.
   */
  ciSeconds: number
}

/** fast-check parameters for one property under the current budget. */
export function fuzzParameters<T>(budget: Budget): fc.Parameters<T> {
  const numRuns = RUNS_OVERRIDE === undefined ? budget.ciRuns : Math.max(1, Math.round(RUNS_OVERRIDE / (budget.cost ?? 1)))
  const seconds = SECONDS_OVERRIDE ?? (RUNS_OVERRIDE === undefined ? budget.ciSeconds : undefined)
  return {
    numRuns,
    ...(SEED === undefined ? {} : { seed: SEED }),
    ...(PATH === undefined ? {} : { path: PATH }),
    ...(seconds === undefined ? {} : { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false }),
  }
}

/** vitest timeout for a test running one property: its time limit plus room to shrink a failure. */
export function testTimeoutMs(budget: Budget): number {
  if (SECONDS_OVERRIDE !== undefined) return (SECONDS_OVERRIDE + 120) * 1000
  if (RUNS_OVERRIDE !== undefined) return 24 * 60 * 60 * 1000
  return (budget.ciSeconds + 40) * 1000
}

/**
 * Counts the cases of each input class a property actually ran, so a report can say "12,400
 * NDJSON bodies" rather than "it passed". Printed after the suite; appended to AUDITQ_FUZZ_REPORT.
 */
export class CaseTally {
  private readonly cases = new Map<string, number>()
  private readonly notes = new Map<string, number>()

  constructor(readonly property: string) {}

  /** One case of an input class ran. */
  count(inputClass: string, by = 1): void {
    this.cases.set(inputClass, (this.cases.get(inputClass) ?? 0) + by)
  }

  /** Something worth knowing happened within a case (a rule hit, a status seen, a known bug met). */
  note(observation: string, by = 1): void {
    this.notes.set(observation, (this.notes.get(observation) ?? 0) + by)
  }

  get total(): number {
    let sum = 0
    for (const value of this.cases.values()) sum += value
    return sum
  }

  report(): void {
    const rows = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, n]) => `    ${name.padEnd(40)} ${n}`)
    console.log([`fuzz ${this.property}: ${this.total} cases`, ...rows(this.cases), '  observations:', ...rows(this.notes)].join('\n'))
    if (env.AUDITQ_FUZZ_REPORT) {
      const record = { property: this.property, at: new Date().toISOString(), cases: Object.fromEntries(this.cases), notes: Object.fromEntries(this.notes) }
      appendFileSync(env.AUDITQ_FUZZ_REPORT, JSON.stringify(record) + '\n')
    }
  }
}

function positiveNumber(name: string): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`)
  return value
}
