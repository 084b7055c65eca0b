/**
 * The shape every scenario shares: start the producers, inject the fault on a timeline, keep the
 * load on until the scenario's seconds are up, stop the producers, wait for the queue to drain,
 * then count acknowledged against stored and judge the row against the documented guarantee.
 */
import type { Deployment } from './deploy.js'
import { ackedIds, countStored, HealthWatch, measureDrain, storedInPostgres, storedInSqlite, type StoredCounts } from './measure.js'
import type { Producer, ProducerResult } from './processes.js'

export interface Row {
  scenario: string
  sent: number
  acked: number
  stored: number
  lost: number
  duplicated: number
  /** Seconds from the fault's end until everything acknowledged by then was stored; null = not within the timeout; undefined = no fault end. */
  drainSeconds: number | null | undefined
  healthDuring: string
  healthAfter: string
  verdict: string
  notes: string[]
}

export interface Timeline {
  loadStartedAt: number
  faultStartedAt?: number
  faultEndedAt?: number
  notes: string[]
}

export interface Expectation {
  /** Loss the README documents for this fault, as a bound on lost events (0 = none allowed). */
  allowedLoss: number
  /** Why that loss is expected, quoted in the verdict's note. */
  documented?: string
}

export interface CampaignOptions {
  deployment: Deployment
  seconds: number
  producers: Producer[]
  health?: HealthWatch
  /** Injects the fault; sets `faultStartedAt`/`faultEndedAt` on the timeline. Runs while the load runs. */
  fault: (timeline: Timeline) => Promise<void>
  /** How long to wait, after the load, for every acknowledged event to be stored. */
  settleTimeoutMs: number
  expectation: Expectation
  /** Stops what writes to the store before it is counted (embedded: the file must be closed). */
  beforeCount?: () => Promise<void>
  store: { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export async function runCampaign(name: string, options: CampaignOptions): Promise<Row> {
  const { producers, health, store } = options
  await Promise.all(producers.map((p) => p.ready))
  const timeline: Timeline = { loadStartedAt: Date.now(), notes: [] }
  health?.start()
  const loadEndsAt = timeline.loadStartedAt + options.seconds * 1000
  let drain: Promise<number | null> | undefined
  await options.fault(timeline)
  if (timeline.faultEndedAt !== undefined && store.kind === 'postgres') {
    // Everything acknowledged up to the fault's end: how long until it is all in the store?
    // (An empty snapshot would "drain" at once and hide a loss: every scenario acknowledges some before its fault.)
    drain = measureDrain(store.url, ackedIds(producers.map((p) => p.ackFile)), timeline.faultEndedAt, loadEndsAt - timeline.faultEndedAt + options.settleTimeoutMs)
  }
  await sleep(Math.max(0, loadEndsAt - Date.now()))
  const results = await Promise.all(producers.map((p) => p.finish()))
  const acked = ackedIds(producers.map((p) => p.ackFile))
  if (store.kind === 'postgres') {
    const settleBy = Date.now() + options.settleTimeoutMs
    while ((await countStored(store.url, acked)) < acked.length && Date.now() < settleBy) await sleep(1_000)
  }
  const drainSeconds = drain ? await drain : undefined
  // Two sampler periods (2 s each), so "after" reflects the settled state rather than the last fault sample.
  const afterFrom = Date.now()
  await sleep(4_500)
  await health?.poll()
  health?.stop()
  await options.beforeCount?.()
  const stored: StoredCounts = store.kind === 'postgres' ? await storedInPostgres(store.url) : storedInSqlite(store.file)
  const lostIds = acked.filter((id) => !stored.ids.has(id))
  const sent = results.reduce((sum, r) => sum + r.sent, 0)
  const row: Row = {
    scenario: name,
    sent,
    acked: acked.length,
    stored: stored.ids.size,
    lost: lostIds.length,
    duplicated: stored.duplicated,
    drainSeconds,
    healthDuring: health ? health.summarize(timeline.faultStartedAt ?? timeline.loadStartedAt, timeline.faultEndedAt ?? loadEndsAt) : '—',
    healthAfter: health ? health.summarize(afterFrom, Date.now() + 1) : '—',
    verdict: '',
    notes: [...timeline.notes, ...results.map(describeProducer)],
  }
  if (health) {
    const during = health.issues(timeline.faultStartedAt ?? timeline.loadStartedAt, timeline.faultEndedAt ?? loadEndsAt).filter(Boolean)
    const after = health.issues(afterFrom, Date.now() + 1).filter(Boolean)
    if (during.length) row.notes.push(`health during, last issue per rule: ${during.join(' | ')}`)
    if (after.length) row.notes.push(`health after: ${after.join(' | ')}`)
  }
  if (lostIds.length) row.notes.push(`lost: ${whenSent(lostIds, timeline)}; first ids ${lostIds.slice(0, 2).join(', ')}`)
  row.verdict = judge(row, options.expectation)
  const refusedFull = results.reduce((sum, r) => sum + (r.errors.AUDITQ_QUEUE_FULL ?? 0), 0)
  if (health && refusedFull > 0 && !/events_dropped/.test(`${row.healthDuring} ${row.healthAfter}`)) {
    row.notes.push(`${refusedFull} events refused with AUDITQ_QUEUE_FULL across the producers, and health never showed events_dropped`)
  }
  if (row.lost > 0 && /^healthy/.test(row.healthAfter)) row.notes.push(`health after the fault says healthy: nothing it reports accounts for the ${row.lost} lost events`)
  return row
}

/** The producers mint UUIDv7 ids, whose first 48 bits are the send time in ms: when, relative to the fault, were the lost ones sent? */
function whenSent(ids: string[], timeline: Timeline): string {
  const start = timeline.faultStartedAt ?? Number.POSITIVE_INFINITY
  const end = timeline.faultEndedAt ?? Number.POSITIVE_INFINITY
  let before = 0
  let during = 0
  let after = 0
  for (const id of ids) {
    const sentAt = parseInt(id.replace(/-/g, '').slice(0, 12), 16)
    if (sentAt < start) before++
    else if (sentAt < end) during++
    else after++
  }
  return `${before} sent before the fault, ${during} during, ${after} after`
}

/** The SDK counters worth a note when they moved. */
const SDK_COUNTERS = ['spilled', 'replayed', 'overflowed', 'queueUnavailable', 'refused', 'failed']

function describeProducer(r: ProducerResult): string {
  const moved = SDK_COUNTERS.filter((key) => typeof r.stats?.[key] === 'number' && (r.stats[key] as number) > 0).map((key) => `${key} ${r.stats![key] as number}`)
  const errors = Object.entries(r.errors).map(([code, n]) => `${code} ×${n}`).join(', ')
  return `${r.name}: sent ${r.sent}, acked ${r.acked}${r.slowestAckMs !== undefined ? ` (slowest ack ${(r.slowestAckMs / 1000).toFixed(1)} s)` : ''}${r.unanswered ? `, ${r.unanswered} unanswered at the end` : ''}${errors ? `, refused: ${errors}` : ''}${r.closeError ? `, close(): ${r.closeError}` : ''}${moved.length ? `, SDK stats: ${moved.join(', ')}` : ''}${r.crashed ? `, ${r.crashed}` : ''}`
}

export function judge(row: Row, expectation: Expectation): string {
  if (row.duplicated > 0) return 'VIOLATION'
  if (row.lost === 0) return 'ok'
  if (row.lost <= expectation.allowedLoss) {
    row.notes.push(`loss expected: ${expectation.documented}`)
    return 'expected loss (documented)'
  }
  return 'VIOLATION'
}
