/**
 * What a scenario measures: acknowledged ids (from the producers' ack files), stored ids (the store
 * itself, queried directly), the drain after the fault, and what the service's health said.
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { readAcks } from './processes.js'

export interface StoredCounts {
  /** Distinct ids stored. */
  ids: Set<string>
  /** Ids stored more than once. */
  duplicated: number
}

export async function storedInPostgres(url: string): Promise<StoredCounts> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  try {
    const { rows } = await client.query<{ id: string; n: string }>('SELECT id::text AS id, count(*) AS n FROM audit_logs GROUP BY id')
    return { ids: new Set(rows.map((row) => row.id)), duplicated: rows.filter((row) => Number(row.n) > 1).length }
  } finally {
    await client.end().catch(() => undefined)
  }
}

export function storedInSqlite(file: string): StoredCounts {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('SELECT id, count(*) AS n FROM audit_logs GROUP BY id').all() as { id: string; n: number }[]
    return { ids: new Set(rows.map((row) => row.id)), duplicated: rows.filter((row) => row.n > 1).length }
  } finally {
    db.close()
  }
}

/** How many of `ids` PostgreSQL holds (0 while it is unreachable). */
export async function countStored(url: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM audit_logs WHERE id = ANY($1::uuid[])', [[...ids]])
    return Number(rows[0]!.n)
  } catch {
    return 0
  } finally {
    await client.end().catch(() => undefined)
  }
}

export function ackedIds(ackFiles: string[]): string[] {
  return ackFiles.flatMap(readAcks)
}

/**
 * Drain: seconds from the fault's end until every id in `snapshot` (what was acknowledged by then) is stored. Polls until
 * done or `timeoutMs`; null when it never drained (the ids it still misses are then lost or late).
 */
export async function measureDrain(url: string, snapshot: readonly string[], faultEndedAt: number, timeoutMs: number): Promise<number | null> {
  for (;;) {
    const stored = await countStored(url, snapshot)
    if (stored >= snapshot.length) return (Date.now() - faultEndedAt) / 1000
    if (Date.now() - faultEndedAt > timeoutMs) return null
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

export interface HealthSample {
  t: number
  status: string
  rules: string[]
  issues: string[]
  http?: number
}

/**
 * Polls `/api/v1/monitoring/audit-metrics` (status + findings by rule) and `/health` (its HTTP code)
 * every second with the admin key, so the row can say what health reported during and after the fault.
 */
export class HealthWatch {
  private readonly samples: HealthSample[] = []
  private timer: NodeJS.Timeout | undefined
  private busy = false

  constructor(private readonly url: string, private readonly apiKey: string | undefined) {}

  start(): this {
    this.timer = setInterval(() => void this.poll(), 1_000)
    return this
  }

  stop(): void {
    clearInterval(this.timer)
  }

  async poll(): Promise<HealthSample> {
    const headers: Record<string, string> = this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}
    const t = Date.now()
    if (this.busy) return { t, status: 'busy', rules: [], issues: [] }
    this.busy = true
    let sample: HealthSample
    try {
      const [metrics, health] = await Promise.all([
        fetch(`${this.url}/api/v1/monitoring/audit-metrics`, { headers, signal: AbortSignal.timeout(5_000) }),
        fetch(`${this.url}/api/v1/monitoring/health`, { headers, signal: AbortSignal.timeout(5_000) }),
      ])
      const body = (await metrics.json()) as { health?: { status: string; issues?: unknown[]; findings?: { rule: string; issue?: string }[] } }
      await health.arrayBuffer()
      const findings = body.health?.findings ?? []
      sample = { t, status: body.health?.status ?? `HTTP ${metrics.status}`, rules: findings.map((f) => f.rule), issues: findings.map((f) => f.issue ?? ''), http: health.status }
    } catch (error) {
      sample = { t, status: 'no answer', rules: [], issues: [(error as Error).message] }
    } finally {
      this.busy = false
    }
    this.samples.push(sample)
    return sample
  }

  /** Worst status and every rule seen in [from, to). */
  summarize(from: number, to: number): string {
    return summarizeSamples(this.samples.filter((s) => s.t >= from && s.t < to))
  }

  /** The last issue (text) of each rule seen in [from, to), for the notes under the table. */
  issues(from: number, to: number): string[] {
    const byRule = new Map<string, string>()
    for (const sample of this.samples.filter((s) => s.t >= from && s.t < to)) {
      sample.rules.forEach((rule, i) => byRule.set(rule, sample.issues[i] ?? rule))
      if (sample.rules.length === 0 && sample.status === 'no answer') byRule.set('no answer', sample.issues[0] ?? 'no answer')
    }
    return [...byRule.values()]
  }
}

const ORDER = ['healthy', 'warning', 'degraded', 'critical']

export function summarizeSamples(samples: HealthSample[]): string {
  if (samples.length === 0) return '—'
  const statuses = [...new Set(samples.map((s) => s.status))]
  const known = statuses.filter((s) => ORDER.includes(s)).sort((a, b) => ORDER.indexOf(b) - ORDER.indexOf(a))
  const other = statuses.filter((s) => !ORDER.includes(s))
  const worst = known[0] ?? other[0]!
  const rules = [...new Set(samples.flatMap((s) => s.rules))]
  const codes = [...new Set(samples.map((s) => s.http).filter((c) => c !== undefined))]
  return `${worst}${rules.length ? ` (${rules.join(', ')})` : ''}${other.length && known.length ? ` +${other.join('/')}` : ''}${codes.length ? ` [${codes.join('/')}]` : ''}`
}
