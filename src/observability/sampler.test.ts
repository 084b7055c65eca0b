import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { LoggerStats } from '../sdk/stats.js'
import { createLogger } from '../util/logger.js'
import type { PipelineReading } from './reading.js'
import { PipelineSampler } from './sampler.js'

const thresholds = loadConfig({}).monitoring.thresholds
const silent = createLogger({ level: 'silent' })

/** A queue-mode reading at `at` whose shared Redis counters say `dropped` events were refused so far. */
function queueReading(at: number, dropped: number | null): PipelineReading {
  return {
    at,
    mode: 'queue',
    store: 'connected',
    redis: dropped === null ? 'unreachable' : 'connected',
    queueLength: dropped === null ? null : 0,
    queueOldestAgeMs: null,
    deadLetters: dropped === null ? null : 0,
    workers: dropped === null ? [] : [{ workerId: 'w1', totalStored: 0, currentBatchSize: 100, insertsLastMinute: 0, failuresLastMinute: 0, batchesLastMinute: 0, avgBatchTimeMs: 0, lastHeartbeatAt: new Date(at).toISOString() }],
    sdk: new LoggerStats().snapshot(0),
    shared: dropped === null ? null : { overflow: 0, spilled: 0, dropped, dead_lettered: 0, replayed: 0 },
    redisLossWindow: null,
    redisLosses: null,
    spill: { events: 0, bytes: 0 },
  }
}

/** A sampler fed scripted readings (the reader is its I/O dependency, not the unit under test). */
function scriptedSampler(historyMs: number) {
  let next: PipelineReading = queueReading(0, 0)
  const sampler = new PipelineSampler({ read: async () => next, thresholds, everyMs: 1_000, historyMs, rateWindowMs: 1_000, logger: silent })
  return {
    sampler,
    sampleAt: async (at: number, dropped: number | null) => {
      next = queueReading(at, dropped)
      await sampler.sample()
      return sampler.latest()!
    },
  }
}

describe('the sampler judges drops over its recent window, not for life', () => {
  it('one burst over the threshold warns, then clears once it leaves the window; the lifetime total stays on show', async () => {
    const { sampleAt } = scriptedSampler(10_000)
    expect((await sampleAt(0, 0)).evaluation.status).toBe('healthy')
    const burst = await sampleAt(1_000, 1_001)
    expect(burst.evaluation.findings.map((f) => f.rule)).toEqual(['events_dropped'])
    expect(burst.figures).toMatchObject({ recent_dropped_events: 1_001, total_dropped_events: 1_001, recent_window_seconds: 1 })

    let view = burst
    for (let at = 2_000; at <= 10_000; at += 1_000) view = await sampleAt(at, 1_001)
    expect(view.evaluation.status).toBe('warning') // the burst is still within the last 10 s

    view = await sampleAt(11_500, 1_001)
    expect(view.evaluation.status).toBe('healthy')
    expect(view.figures).toMatchObject({ recent_dropped_events: 0, total_dropped_events: 1_001 })
  })

  it('a Redis blip (the process falls back to its own counters) is not mistaken for a burst', async () => {
    const { sampleAt } = scriptedSampler(10_000)
    await sampleAt(0, 50_000)
    expect((await sampleAt(1_000, null)).evaluation.findings.map((f) => f.rule)).toEqual(['redis_unreachable'])
    const back = await sampleAt(2_000, 50_000)
    expect(back.evaluation.status).toBe('healthy')
    expect(back.figures.recent_dropped_events).toBe(0)
    // Drops after the blip are measured against the last shared reading before it.
    expect((await sampleAt(3_000, 51_500)).figures.recent_dropped_events).toBe(1_500)
  })
})

describe('on-demand readings', () => {
  it('concurrent current() calls share one read; a later call reads again', async () => {
    let reads = 0
    const waiting: (() => void)[] = []
    const release = () => waiting.splice(0).forEach((resolve) => resolve())
    const sampler = new PipelineSampler({
      read: async () => {
        reads += 1
        await new Promise<void>((resolve) => waiting.push(resolve))
        return queueReading(reads * 1_000, 0)
      },
      thresholds,
      everyMs: 1_000,
      historyMs: 10_000,
      rateWindowMs: 1_000,
      logger: silent,
    })
    const views = Array.from({ length: 20 }, () => sampler.current())
    release()
    const settled = await Promise.all(views)
    expect(reads).toBe(1)
    expect(new Set(settled).size).toBe(1)

    const again = sampler.current()
    release()
    await again
    expect(reads).toBe(2)
  })
})
