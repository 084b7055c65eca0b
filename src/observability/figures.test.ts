import { describe, expect, it } from 'vitest'
import { LoggerStats } from '../sdk/stats.js'
import { deriveFigures, storedBetween } from './figures.js'
import type { PipelineReading, WorkerReading } from './reading.js'

const worker = (workerId: string, totalStored: number): WorkerReading => ({
  workerId, totalStored, currentBatchSize: 100, insertsLastMinute: 0, failuresLastMinute: 0, batchesLastMinute: 0, avgBatchTimeMs: 0, lastHeartbeatAt: new Date(0).toISOString(),
})

function reading(at: number, workers: WorkerReading[] | null): PipelineReading {
  return {
    at,
    mode: 'queue',
    store: 'connected',
    redis: workers === null ? 'unreachable' : 'connected',
    queueLength: workers === null ? null : 0,
    queueOldestAgeMs: null,
    deadLetters: workers === null ? null : 0,
    workers: workers ?? [],
    sdk: new LoggerStats().snapshot(0),
    shared: workers === null ? null : { overflow: 0, spilled: 0, dropped: 0, dead_lettered: 0, replayed: 0 },
    redisLossWindow: null,
    redisLosses: null,
    spill: { events: 0, bytes: 0 },
  }
}

describe('events stored between two readings', () => {
  it('counts each worker present in both readings by the growth of its total', () => {
    expect(storedBetween(reading(10_000, [worker('a', 1_500), worker('b', 700)]), reading(0, [worker('a', 1_000), worker('b', 200)]))).toBe(1_000)
  })

  it('a worker that started since a base which read the heartbeats counts everything it stored', () => {
    expect(storedBetween(reading(10_000, [worker('a', 1_100), worker('new', 300)]), reading(0, [worker('a', 1_000)]))).toBe(400)
  })

  it('a restarted worker (its total went back) counts what it stored since, never a negative', () => {
    expect(storedBetween(reading(10_000, [worker('a', 40)]), reading(0, [worker('a', 1_000_000)]))).toBe(40)
  })

  it("after a Redis blip (a base with no worker heartbeats) a worker's lifetime total is not a spike in the store rate", () => {
    const blip = reading(0, null)
    const after = reading(10_000, [worker('a', 5_000_000), worker('b', 3_000_000)])
    expect(storedBetween(after, blip)).toBe(0)
    expect(deriveFigures(after, blip, blip).store_rate_per_second).toBe(0)
    // From the first reading with the heartbeats back, the rate is the real one again.
    const later = reading(20_000, [worker('a', 5_001_000), worker('b', 3_000_500)])
    expect(deriveFigures(later, after, after).store_rate_per_second).toBe(150)
  })
})
