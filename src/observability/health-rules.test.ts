import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import type { PipelineFigures } from './figures.js'
import { evaluateHealth, worstStatus, type HealthInput, type HealthStatus } from './health-rules.js'

const thresholds = loadConfig({}).monitoring.thresholds

const calmQueue: HealthInput = {
  mode: 'queue',
  store: 'connected',
  redis: 'connected',
  queue_length: 10,
  current_batch_size: 100,
  inserts_last_minute: 600,
  failures_last_minute: 0,
  avg_batch_time_ms: 12,
  avg_batch_size: 50,
  total_dropped_events: 0,
  recent_dropped_events: 0,
  recent_window_seconds: 600,
  total_overflow_events: 0,
  total_spilled_events: 0,
  spill_waiting_events: 0,
  dead_letters: 0,
  oldest_event_age_seconds: 0.2,
  live_workers: 1,
  ingest_rate_per_second: 10,
  store_rate_per_second: 10,
  queue_growth_per_second: 0,
  arrival_rate_per_second: 10,
  total_received_events: 1000,
  total_rejected_events: 0,
}

const evaluate = (changes: Partial<HealthInput>, custom = thresholds) => evaluateHealth({ ...calmQueue, ...changes }, custom)

describe('health rules', () => {
  it('a calm pipeline is healthy with one info recommendation', () => {
    const result = evaluate({})
    expect(result).toMatchObject({ status: 'healthy', issues: [], findings: [] })
    expect(result.recommendations).toEqual([{ severity: 'info', message: 'All systems operating normally.' }])
  })

  it.each<[string, Partial<HealthInput>, string, HealthStatus]>([
    ['store unreachable', { store: 'unreachable' }, 'store_unreachable', 'critical'],
    ['redis unreachable', { redis: 'unreachable', live_workers: 0, queue_length: null }, 'redis_unreachable', 'degraded'],
    ['no live worker', { live_workers: 0 }, 'no_live_worker', 'degraded'],
    ['queue over 5,000', { queue_length: 5_001 }, 'queue_backed_up', 'degraded'],
    ['oldest event over 60 s', { oldest_event_age_seconds: 61 }, 'oldest_event_too_old', 'degraded'],
    ['over 100 failures a minute', { failures_last_minute: 101 }, 'high_failure_rate', 'critical'],
    ['over 100 failures a minute, still failing within the rate window', { failures_last_minute: 101, failures_recent: 3 }, 'high_failure_rate', 'critical'],
    ['over 1,000 dropped recently', { recent_dropped_events: 1_001, total_dropped_events: 1_001 }, 'events_dropped', 'warning'],
    ['a dead letter', { dead_letters: 1 }, 'dead_letters', 'warning'],
    ['a spilled event waiting', { spill_waiting_events: 1 }, 'events_spilled_waiting', 'warning'],
    ['a producer sequence number missing past the bound', { producer_missing_events: 1 }, 'producer_events_missing', 'critical'],
  ])('%s fires its rule alone', (_name, changes, rule, status) => {
    const result = evaluate(changes)
    expect(result.findings.map((f) => f.rule)).toEqual([rule])
    expect(result.status).toBe(status)
    expect(result.issues).toHaveLength(1)
    expect(result.recommendations).toHaveLength(1)
    expect(result.recommendations[0]!.severity).toBe(status === 'critical' ? 'critical' : 'warning')
  })

  it.each<[string, Partial<HealthInput>]>([
    ['queue exactly at 5,000', { queue_length: 5_000 }],
    ['exactly 100 failures', { failures_last_minute: 100 }],
    ['over 100 failures a minute, none within the rate window (the store is back)', { failures_last_minute: 500, failures_recent: 0 }],
    ['exactly 1,000 dropped recently', { recent_dropped_events: 1_000 }],
    ['a huge lifetime total of drops, none recent', { total_dropped_events: 50_000, recent_dropped_events: 0 }],
    ['oldest exactly 60 s', { oldest_event_age_seconds: 60 }],
    ['no event waiting (age null)', { oldest_event_age_seconds: null }],
  ])('%s is still healthy (thresholds are "above")', (_name, changes) => {
    expect(evaluate(changes).status).toBe('healthy')
  })

  it("a later, milder rule never overwrites a graver one (a rule-by-rule status let dropped > 1,000 turn critical into warning)", () => {
    // Rules in this order: queue backed up (degraded), high failure rate (critical), dropped (warning); last-rule-wins would report "warning".
    const result = evaluate({ queue_length: 6_843, failures_last_minute: 145, recent_dropped_events: 1_247 })
    expect(result.status).toBe('critical')
    expect(result.findings.map((f) => [f.rule, f.status])).toEqual([
      ['queue_backed_up', 'degraded'],
      ['high_failure_rate', 'critical'],
      ['events_dropped', 'warning'],
    ])
    expect(result.recommendations.map((r) => r.severity)).toEqual(['critical', 'warning', 'warning'])
  })

  it('the drop issue names the recent count, its window and the lifetime total', () => {
    const result = evaluate({ recent_dropped_events: 1_500, recent_window_seconds: 600, total_dropped_events: 9_000 })
    expect(result.issues).toEqual(['events being dropped: 1,500 refused in the last 600 s (threshold 1,000; 9,000 in total)'])
  })

  it('the status is the worst finding, whatever the order', () => {
    expect(worstStatus([])).toBe('healthy')
    expect(worstStatus(['warning', 'critical', 'degraded'])).toBe('critical')
    expect(worstStatus(['degraded', 'warning'])).toBe('degraded')
    expect(worstStatus(['warning'])).toBe('warning')
  })

  it('every threshold is configurable', () => {
    const strict = loadConfig({
      monitoring: {
        thresholds: {
          queueLengthDegraded: 5,
          failuresPerMinuteCritical: 0,
          droppedEventsWarning: 0,
          oldestEventAgeSecondsDegraded: 0.1,
          deadLettersWarning: 5,
          spilledWaitingWarning: 5,
        },
      },
    }).monitoring.thresholds
    const result = evaluate({ queue_length: 6, failures_last_minute: 1, recent_dropped_events: 1, dead_letters: 5, spill_waiting_events: 5 }, strict)
    expect(result.findings.map((f) => f.rule).sort()).toEqual(['events_dropped', 'high_failure_rate', 'oldest_event_too_old', 'queue_backed_up'])
  })

  it('a backed-up queue names who drains how fast against what arrives', () => {
    const result = evaluate({ queue_length: 9_000, live_workers: 2, store_rate_per_second: 800, arrival_rate_per_second: 3_000, queue_growth_per_second: 2_200 })
    expect(result.recommendations[0]!.message).toBe('2 workers are draining 800 events/s against 3,000 arriving; add workers or raise the batch size.')
  })

  it('a shrinking backlog says so', () => {
    const result = evaluate({ queue_length: 9_000, live_workers: 1, store_rate_per_second: 3_000, arrival_rate_per_second: 1_000, queue_growth_per_second: -2_000 })
    expect(result.recommendations[0]!.message).toMatch(/^1 worker is draining 3,000 events\/s against 1,000 arriving; the backlog shrinks by 2,000 events\/s/)
  })

  it('a spill journal refusing events is a finding with its errno: degraded, critical while Redis is down', () => {
    const refusing = { errno: 'ENOSPC', message: 'no space left on device, write', since: '2026-01-01T00:00:00.000Z' }
    const up = evaluate({ spill: { refusing } })
    expect(up.status).toBe('degraded')
    expect(up.findings).toEqual([expect.objectContaining({ rule: 'spill_refusing', status: 'degraded' })])
    expect(up.issues[0]).toContain('ENOSPC')
    const down = evaluate({ redis: 'unreachable', spill: { refusing } })
    expect(down.status).toBe('critical')
    expect(down.findings.find((f) => f.rule === 'spill_refusing')).toMatchObject({ status: 'critical' })
    // Not "events are spilling" while the journal refuses them.
    expect(down.issues.find((issue) => issue.startsWith('redis unreachable'))).toContain('refusing (ENOSPC)')
  })

  it('a stopped spill replay and a checkpoint it cannot write are findings naming the errno', () => {
    const fault = { errno: 'EIO', message: 'i/o error, read', since: '2026-01-01T00:00:00.000Z' }
    expect(evaluate({ spill: { replayFailing: fault } }).findings).toEqual([expect.objectContaining({ rule: 'spill_replay_failing', status: 'degraded', issue: expect.stringContaining('EIO') })])
    expect(evaluate({ spill: { checkpointFailing: { ...fault, errno: 'ENOSPC' } } }).findings).toEqual([expect.objectContaining({ rule: 'spill_checkpoint_failing', status: 'warning', issue: expect.stringContaining('ENOSPC') })])
  })

  it('with Redis unreachable, the missing heartbeats are not reported as a missing worker', () => {
    const result = evaluate({ redis: 'unreachable', live_workers: 0, queue_length: null, dead_letters: null, spill_waiting_events: 40 })
    expect(result.findings.map((f) => f.rule)).toEqual(['redis_unreachable'])
    expect(result.issues[0]).toMatch(/40 waiting/)
  })

  it('direct mode has no queue rules but still the backlog, age, failure and store rules', () => {
    const direct: Partial<PipelineFigures> & Partial<HealthInput> = { mode: 'direct', redis: null, live_workers: 0, dead_letters: 0 }
    expect(evaluate(direct).status).toBe('healthy')
    const slow = evaluate({ ...direct, queue_length: 6_000, oldest_event_age_seconds: 70, store_rate_per_second: 100, arrival_rate_per_second: 900, avg_batch_time_ms: 400 })
    expect(slow.findings.map((f) => f.rule)).toEqual(['queue_backed_up', 'oldest_event_too_old'])
    expect(slow.recommendations[0]!.message).toMatch(/The store commits 100 events\/s against 900 arriving, 400 ms per commit/)
  })

  it('a Redis loss is critical, sums the events exposed, and holds however calm the pipeline looks', () => {
    const result = evaluate({
      redis_losses: [
        { eventsExposed: 9_800, cause: 'restarted-empty', detectedAt: '2026-01-01T00:00:00.000Z' },
        { eventsExposed: 200, cause: 'keys-vanished', detectedAt: '2026-01-02T00:00:00.000Z' },
      ],
    })
    expect(result.status).toBe('critical')
    expect(result.findings).toEqual([expect.objectContaining({ rule: 'redis_data_lost', status: 'critical' })])
    expect(result.issues[0]).toContain('about 10,000 acknowledged events')
    expect(result.recommendations[0]!.message).toContain('auditq queue ack-loss')
    expect(evaluate({ redis_losses: [] }).status).toBe('healthy')
  })
  it('access_unrecorded fires while the access trail cannot be written, naming since when and why, and clears after', () => {
    const failing = evaluate({ access_trail: { failing: { since: '2026-06-01T12:00:00.000Z', message: 'disk full' }, pending: 2 } })
    expect(failing.findings).toEqual([expect.objectContaining({ rule: 'access_unrecorded', status: 'degraded', issue: expect.stringContaining('disk full') })])
    expect(evaluate({ access_trail: { failing: null, pending: 2 } }).findings).toEqual([])
  })
})

describe('stream_failing', () => {
  const stream = (state: 'active' | 'paused' | 'parked', failing_seconds: number) => ({ name: 'siem', state, failing_seconds, last_error: 'webhook answered 503' })

  it('fires for a stream failing longer than the threshold, or parked at once; never for a paused one', () => {
    expect(evaluate({ streams: [stream('active', thresholds.streamFailingSeconds - 1)] }).findings).toEqual([])
    expect(evaluate({ streams: [stream('paused', 10_000)] }).findings).toEqual([])
    const failing = evaluate({ streams: [stream('active', thresholds.streamFailingSeconds + 1)] })
    expect(failing.findings).toMatchObject([{ rule: 'stream_failing', status: 'warning' }])
    expect(failing.issues[0]).toContain('siem (failing')
    expect(failing.issues[0]).toContain('webhook answered 503')
    const parked = evaluate({ streams: [stream('parked', 0)] })
    expect(parked.findings).toMatchObject([{ rule: 'stream_failing' }])
    expect(parked.recommendations[0]!.message).toContain('auditq streams resume')
  })
})
