import { describe, expect, it } from 'vitest'
import { RollingFigures } from './figures.js'

const batch = (stored: number, durationMs: number, failedAttempts = 0) => ({ size: stored, stored, duplicates: 0, deadLettered: 0, failedAttempts, durationMs })

describe('rolling per-minute figures', () => {
  it('sums the last 60 s and forgets older batches without a reset timer', () => {
    let now = 0
    const figures = new RollingFigures(() => now)
    figures.record(batch(100, 10))
    now = 30_000
    figures.recordFailure()
    figures.recordFailure()
    figures.record(batch(300, 30, 2))
    expect(figures.lastMinute()).toEqual({ inserts_last_minute: 400, failures_last_minute: 2, batches_last_minute: 2, avg_batch_time_ms: 20 })
    now = 61_000
    expect(figures.lastMinute()).toMatchObject({ inserts_last_minute: 300, batches_last_minute: 1 })
    now = 200_000
    expect(figures.lastMinute()).toEqual({ inserts_last_minute: 0, failures_last_minute: 0, batches_last_minute: 0, avg_batch_time_ms: 0 })
    expect(figures.lifetime).toMatchObject({ batches: 2, stored: 400, failedAttempts: 2 })
  })

  it('counts a failed attempt when it happens, while its batch is still being retried', () => {
    let now = 0
    const figures = new RollingFigures(() => now)
    figures.recordFailure()
    now = 10_000
    figures.recordFailure()
    // No batch has ended: the store is still down.
    expect(figures.lastMinute()).toMatchObject({ failures_last_minute: 2, batches_last_minute: 0 })
    now = 65_000
    expect(figures.lastMinute().failures_last_minute).toBe(1)
    // The batch lands: its report's failedAttempts were already counted one by one.
    figures.record(batch(50, 5, 2))
    expect(figures.lastMinute().failures_last_minute).toBe(1)
    expect(figures.lifetime.failedAttempts).toBe(2)
  })
})
