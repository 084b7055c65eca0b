import type { PipelineReading } from './reading.js'

/**
 * The legacy services' `metrics` object (so their dashboards keep working) plus the figures the dashboard and rules need. Direct mode has no
 * queue: `queue_length` is the events accepted and not yet committed (waiting for the group commit
 * or in the one running now); workers and dead letters are 0. A figure that cannot be read right
 * now (Redis unreachable) is null, never a made-up 0.
 */
export interface PipelineFigures {
  mode: 'direct' | 'queue'
  queue_length: number | null
  current_batch_size: number
  inserts_last_minute: number
  failures_last_minute: number
  /**
   * Direct mode: inserts that failed within the rate window (this process's commits). A minute's
   * count outlives an outage by up to a minute; this says whether failures are still happening.
   * Absent (queue mode, or no older reading yet): judged on the minute's count alone.
   */
  failures_recent?: number
  avg_batch_time_ms: number
  avg_batch_size: number
  /** Lifetime total (shared counters only grow): displayed, never judged — one old burst must not latch the health. */
  total_dropped_events: number
  /** Events dropped within the last `recent_window_seconds` (the difference of two readings): what `events_dropped` judges. */
  recent_dropped_events: number
  /** How far back `recent_dropped_events` reaches (up to the sampler's history window; less on a young service). */
  recent_window_seconds: number
  total_overflow_events: number
  total_spilled_events: number
  /** Spilled events still in this process's journal, not yet replayed into the queue. */
  spill_waiting_events: number
  dead_letters: number | null
  oldest_event_age_seconds: number | null
  live_workers: number
  ingest_rate_per_second: number
  store_rate_per_second: number
  /** Queue mode: how fast the queue grows (negative: shrinks), over the rate window; 0 in direct mode. */
  queue_growth_per_second: number
  /**
   * Events arriving per second across every producer: in queue mode what was stored plus what the
   * queue grew by (this service's own ingest rate misses other producers); in direct mode the ingest rate.
   */
  arrival_rate_per_second: number
  /** Totals of this process since it started. */
  total_received_events: number
  total_rejected_events: number
}

/**
 * Derives figures from `now` and older readings: `rateBase` (about `rateWindowMs` ago) for
 * per-second rates, `minuteBase` (about 60 s ago) for the direct mode's per-minute figures, and
 * `recentBase` (the oldest reading within the recent window) for counters that only grow.
 * Pure, so the arithmetic is tested without a clock.
 */
export function deriveFigures(
  now: PipelineReading,
  rateBase: PipelineReading | undefined,
  minuteBase: PipelineReading | undefined,
  recentBase?: PipelineReading,
): PipelineFigures {
  const queue = now.mode === 'queue'
  const minute = sdkDelta(now, minuteBase)
  const workers = now.workers
  const workerBatches = sum(workers.map((w) => w.batchesLastMinute))
  const sdkCommits = minute.commits
  const inserts = sum(workers.map((w) => w.insertsLastMinute)) + minute.stored
  const failures = sum(workers.map((w) => w.failuresLastMinute)) + minute.failed
  const avgBatchTime =
    workerBatches > 0
      ? sum(workers.map((w) => w.avgBatchTimeMs * w.batchesLastMinute)) / workerBatches
      : sdkCommits > 0
        ? minute.commitMs / sdkCommits
        : 0
  const batches = workerBatches + sdkCommits
  const avgBatchSize = batches > 0 ? inserts / batches : 0
  const currentBatchSize = queue && workers.length > 0 ? Math.max(...workers.map((w) => w.currentBatchSize)) : Math.round(avgBatchSize)

  const seconds = rateBase ? (now.at - rateBase.at) / 1000 : 0
  const rate = (delta: number) => (seconds > 0 ? round1(delta / seconds) : 0)
  const ingested = rateBase ? Math.max(0, now.sdk.accepted - rateBase.sdk.accepted) : 0

  const queueOldest = now.queueOldestAgeMs
  const pendingOldest = now.sdk.oldestPendingAgeMs
  const oldestMs = queueOldest === null ? pendingOldest : pendingOldest === null ? queueOldest : Math.max(queueOldest, pendingOldest)

  const storeRate = rate(storedBetween(now, rateBase))
  const ingestRate = rate(ingested)
  const growth = queue && rateBase && now.queueLength !== null && rateBase.queueLength !== null ? rate(now.queueLength - rateBase.queueLength) : 0
  return {
    mode: now.mode,
    queue_length: queue ? now.queueLength : now.sdk.pending + now.sdk.inFlight,
    current_batch_size: currentBatchSize,
    inserts_last_minute: inserts,
    failures_last_minute: failures,
    ...(!queue && rateBase ? { failures_recent: Math.max(0, now.sdk.failed - rateBase.sdk.failed) } : {}),
    avg_batch_time_ms: Math.round(avgBatchTime),
    avg_batch_size: round1(avgBatchSize),
    // Shared counters sum every producer of the queue; this process's own are the fallback when Redis is unreadable.
    total_dropped_events: droppedTotal(now).total,
    recent_dropped_events: droppedBetween(now, recentBase),
    recent_window_seconds: recentBase ? round1(Math.max(0, now.at - recentBase.at) / 1000) : 0,
    total_overflow_events: now.shared?.overflow ?? now.sdk.overflowed,
    total_spilled_events: now.shared?.spilled ?? now.sdk.spilled,
    spill_waiting_events: now.spill?.events ?? 0,
    dead_letters: queue ? now.deadLetters : 0,
    oldest_event_age_seconds: oldestMs === null ? null : round1(oldestMs / 1000),
    live_workers: workers.length,
    ingest_rate_per_second: ingestRate,
    store_rate_per_second: storeRate,
    queue_growth_per_second: growth,
    arrival_rate_per_second: queue ? round1(Math.max(ingestRate, storeRate + growth)) : ingestRate,
    total_received_events: now.sdk.accepted + now.sdk.invalid,
    total_rejected_events: now.sdk.invalid,
  }
}

/**
 * Events stored between two readings, by this process (its group commit) and by every worker. A
 * worker missing from a base that did read the heartbeats started since then: all it stored is in
 * the window. A base that could not read them (Redis unreachable: `workers` is empty because
 * unknown, not because none ran) gives no starting point, so only workers seen in both count —
 * else every worker's lifetime total would show as a spike after a Redis blip. A worker whose total
 * went back (it restarted) counts what it stored since the restart, never a negative.
 */
export function storedBetween(now: PipelineReading, base: PipelineReading | undefined): number {
  if (!base) return 0
  const before = new Map(base.workers.map((w) => [w.workerId, w.totalStored]))
  const baseKnewWorkers = base.mode === 'queue' && base.redis === 'connected'
  let stored = Math.max(0, now.sdk.stored - base.sdk.stored)
  for (const worker of now.workers) {
    const was = before.get(worker.workerId)
    if (was === undefined) stored += baseKnewWorkers ? worker.totalStored : 0
    else stored += worker.totalStored < was ? worker.totalStored : worker.totalStored - was
  }
  return stored
}

function droppedTotal(reading: PipelineReading): { source: 'shared' | 'local'; total: number } {
  return reading.shared ? { source: 'shared', total: reading.shared.dropped } : { source: 'local', total: reading.sdk.refused }
}

/**
 * Drops between two readings. Only a difference of the same counter means anything: across a Redis
 * blip (one side shared, the other this process's own) the window says 0 rather than mistaking a
 * lifetime total for a burst; a counter that went backwards (Redis flushed) also says 0.
 */
export function droppedBetween(now: PipelineReading, base: PipelineReading | undefined): number {
  if (!base) return 0
  const [after, before] = [droppedTotal(now), droppedTotal(base)]
  return after.source === before.source ? Math.max(0, after.total - before.total) : 0
}

function sdkDelta(now: PipelineReading, base: PipelineReading | undefined) {
  const from = base?.sdk
  const delta = (pick: (s: PipelineReading['sdk']) => number) => Math.max(0, pick(now.sdk) - (from ? pick(from) : 0))
  // Without a base (the very first reading) the process's own totals since start are the window.
  return { stored: delta((s) => s.stored), failed: delta((s) => s.failed), commits: delta((s) => s.commits), commitMs: delta((s) => s.commitMsTotal) }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0)
}

function round1(value: number): number {
  return Math.round(value * 10) / 10
}
