import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { evaluateHealth } from './health-rules.js'
import { ALL_RULES, newRegistry, ServiceMetrics } from './metrics.js'
import { StreamMetrics } from './stream-metrics.js'
import { SearchBackfillMetrics } from './search-metrics.js'

const monitoring = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'monitoring.md'), 'utf8')

describe('docs/monitoring.md', () => {
  it('lists every auditq_* metric the service and workers register', async () => {
    const registry = newRegistry()
    // A store that reports chain writes adds its counter (PostgreSQL's does).
    const metrics = new ServiceMetrics(registry)
    metrics.observeChainWrites({ chainWriteStats: () => ({ linkOffers: 0, linkOffersTaken: 0 }) })
    // So does a PostgreSQL store with a read replica.
    metrics.observeReadReplica({
      readReplicaStatus: () => ({ inUse: true, reason: null, lagSeconds: 0, lagBytes: 0, fallbacks: 0, lastError: null, maxLagSeconds: 10 }),
    })
    // Processes that run stream deliverers add the stream metrics.
    new StreamMetrics(registry)
    // So does `serve`'s search backfill.
    new SearchBackfillMetrics(registry, () => 0)
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => name.startsWith('auditq_'))
    expect(names.length).toBeGreaterThan(20)
    for (const name of names) expect(monitoring, name).toContain(`\`${name}\``)
  })

  it('lists every health rule, and every rule can fire', () => {
    for (const rule of ALL_RULES) expect(monitoring, rule).toContain(`\`${rule}\``)
    const everything = evaluateHealth(
      {
        mode: 'queue', store: 'unreachable', redis: 'connected', queue_length: 10_000, current_batch_size: 0, inserts_last_minute: 0,
        failures_last_minute: 1_000, avg_batch_time_ms: 0, avg_batch_size: 0, total_dropped_events: 5_000, recent_dropped_events: 5_000, recent_window_seconds: 600, total_overflow_events: 0,
        total_spilled_events: 0, spill_waiting_events: 5, dead_letters: 3, oldest_event_age_seconds: 600, live_workers: 0,
        ingest_rate_per_second: 0, store_rate_per_second: 0, queue_growth_per_second: 0, arrival_rate_per_second: 0,
        total_received_events: 0, total_rejected_events: 0,
        redis_losses: [{ eventsExposed: 9_800, cause: 'restarted-empty', detectedAt: '2026-01-01T00:00:00.000Z' }],
        producer_missing_events: 3,
        access_trail: { failing: { since: '2026-01-01T00:00:00.000Z', message: 'disk full' }, pending: 1 },
      },
      loadConfig({}).monitoring.thresholds,
    )
    const fault = { errno: 'ENOSPC', message: 'no space left on device', since: '2026-01-01T00:00:00.000Z' }
    const spill = { refusing: fault, replayFailing: fault, checkpointFailing: fault }
    const read_replica = { inUse: false, reason: 'unreachable' as const, lagSeconds: null, maxLagSeconds: 10, lastError: 'connect ECONNREFUSED' }
    const streams = [{ name: 'siem', state: 'parked' as const, failing_seconds: 1, last_error: 'webhook answered 400' }]
    const search_index = { unindexed: 5, running: true, failing: null }
    const redisDown = evaluateHealth({ ...everythingInput(), redis: 'unreachable', spill, read_replica, streams, search_index, default_partition_rows: 4 }, loadConfig({}).monitoring.thresholds)
    const fired = new Set([...everything.findings, ...redisDown.findings].map((f) => f.rule))
    expect([...fired].sort()).toEqual([...ALL_RULES].sort())
  })
})

function everythingInput() {
  return {
    mode: 'queue' as const, store: 'connected' as const, redis: 'connected' as const, queue_length: null, current_batch_size: 0, inserts_last_minute: 0,
    failures_last_minute: 0, avg_batch_time_ms: 0, avg_batch_size: 0, total_dropped_events: 0, recent_dropped_events: 0, recent_window_seconds: 0, total_overflow_events: 0,
    total_spilled_events: 0, spill_waiting_events: 0, dead_letters: null, oldest_event_age_seconds: null, live_workers: 0,
    ingest_rate_per_second: 0, store_rate_per_second: 0, queue_growth_per_second: 0, arrival_rate_per_second: 0,
    total_received_events: 0, total_rejected_events: 0,
  }
}
