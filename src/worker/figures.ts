import type { BatchReport } from './queue-worker.js'

const WINDOW_MS = 60_000

/**
 * Per-minute figures (as legacy dashboards expect them), as a sliding window instead of counters reset by a timer (a reset
 * that races the reader shows zero right after every minute boundary).
 */
export class RollingFigures {
  private batches: { at: number; report: BatchReport }[] = []
  /** When each failed insert attempt happened: counted as it happens, not when its batch ends. */
  private failures: number[] = []
  private totals = { batches: 0, stored: 0, deadLettered: 0, failedAttempts: 0 }

  constructor(private readonly now: () => number = Date.now) {}

  record(report: BatchReport): void {
    this.batches.push({ at: this.now(), report })
    this.totals.batches += 1
    this.totals.stored += report.stored
    this.totals.deadLettered += report.deadLettered
    // report.failedAttempts were each recorded by recordFailure() as they happened.
    this.prune()
  }

  /** One failed insert attempt, now (the store refused or did not answer; the batch is retried). */
  recordFailure(): void {
    this.failures.push(this.now())
    this.totals.failedAttempts += 1
    this.prune()
  }

  lastMinute() {
    this.prune()
    let inserts = 0
    let failures = this.failures.length
    let batchMs = 0
    for (const { report } of this.batches) {
      inserts += report.stored
      failures += report.deadLettered
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
    let old = 0
    while (old < this.failures.length && this.failures[old]! < cutoff) old++
    if (old > 0) this.failures.splice(0, old)
  }
}
