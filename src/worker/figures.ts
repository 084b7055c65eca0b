import type { BatchReport } from './queue-worker.js'

const WINDOW_MS = 60_000

/**
 * The seeds' per-minute figures, as a sliding window instead of counters reset by a timer (a reset
 * that races the reader shows zero right after every minute boundary).
 */
export class RollingFigures {
  private batches: { at: number; report: BatchReport }[] = []
  private totals = { batches: 0, stored: 0, deadLettered: 0, failedAttempts: 0 }

  constructor(private readonly now: () => number = Date.now) {}

  record(report: BatchReport): void {
    this.batches.push({ at: this.now(), report })
    this.totals.batches += 1
    this.totals.stored += report.stored
    this.totals.deadLettered += report.deadLettered
    this.totals.failedAttempts += report.failedAttempts
    this.prune()
  }

  lastMinute() {
    this.prune()
    let inserts = 0
    let failures = 0
    let batchMs = 0
    for (const { report } of this.batches) {
      inserts += report.stored
      failures += report.failedAttempts + report.deadLettered
      batchMs += report.durationMs
    }
    return {
      inserts_last_minute: inserts,
      failures_last_minute: failures,
      batches_last_minute: this.batches.length,
      avg_batch_time_ms: this.batches.length === 0 ? 0 : Math.round(batchMs / this.batches.length),
    }
  }

  get lifetime() {
    return { ...this.totals }
  }

  private prune(): void {
    const cutoff = this.now() - WINDOW_MS
    let drop = 0
    while (drop < this.batches.length && this.batches[drop]!.at < cutoff) drop++
    if (drop > 0) this.batches.splice(0, drop)
  }
}
