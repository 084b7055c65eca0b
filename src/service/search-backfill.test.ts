/**
 * The service's background search backfill on a real embedded store holding events from before
 * word search: the gap is counted at start and shown (health finding, metric) whether or not the
 * pass runs; with the pass on it closes by itself and the finding goes away.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { storedEvent } from '../../test/support/events.js'
import { migrateAllBut } from '../../test/support/migrate-partial.js'
import { loadConfig } from '../config.js'
import { evaluateHealth, ADVISORY_RULES } from '../observability/health-rules.js'
import { newRegistry } from '../observability/metrics.js'
import { parseSearch } from '../query/search/syntax.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../store/embedded/embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from '../store/embedded/migrations.js'
import type { Store } from '../store/store.js'
import { createLogger } from '../util/logger.js'
import { startSearchBackfill } from './search-backfill.js'

const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))))

/** An embedded store upgraded to migration 88 with `old` of its `total` events stored before search. */
async function upgradedStore(total: number, old: number): Promise<Store> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-search-bg-'))
  dirs.push(dataDir)
  const file = path.join(dataDir, EMBEDDED_DB_FILE)
  await migrateAllBut(embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 })), EMBEDDED_MIGRATIONS, [87, 88])
  const store = await createEmbeddedStore({ dataDir })
  await store.insertBatch(Array.from({ length: total }, (_, i) => storedEvent({ metadata: { word: 'needle', i } })))
  const raw = openEmbeddedConnection(file, { timeoutMs: 5_000 })
  raw.prepare<[number], never>('DELETE FROM audit_logs_fts WHERE rowid <= ?').run(old)
  raw.close()
  await store.migrate()
  return store
}

const logger = createLogger({ level: 'silent' })
const thresholds = loadConfig({}).monitoring.thresholds

async function metric(registry: ReturnType<typeof newRegistry>, name: string): Promise<number | undefined> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  return found?.values[0]?.value
}

describe('background search backfill', () => {
  it('with the pass off, counts the gap at start and shows it in health and metrics without touching it', async () => {
    const store = await upgradedStore(30, 12)
    const registry = newRegistry()
    const task = startSearchBackfill({ store, settings: { ...loadConfig({}).search, backfillAtStart: false }, logger, registry })
    try {
      await vi.waitFor(() => expect(task.status().unindexed).toBe(12))
      expect(task.status()).toEqual({ unindexed: 12, running: false, failing: null })
      expect(await metric(registry, 'auditq_search_unindexed_events')).toBe(12)
      const evaluation = evaluateHealth({ ...quietFigures(), search_index: task.status() }, thresholds)
      expect(evaluation.findings).toEqual([{ rule: 'search_unindexed', status: 'warning', issue: expect.stringContaining('12 events have no search document') }])
      expect(evaluation.recommendations[0]!.message).toContain('auditq search backfill')
      // Advisory: search missing old events must not take an instance out of a load balancer.
      expect(ADVISORY_RULES.has('search_unindexed')).toBe(true)
      expect((await store.query({ search: parseSearch('needle') }, { limit: 100 })).events).toHaveLength(18)
    } finally {
      await task.stop()
      await store.close()
    }
  })

  it('with the pass on, fills every missing document in the background; the finding and the gauge go to zero', async () => {
    const store = await upgradedStore(30, 12)
    const registry = newRegistry()
    const task = startSearchBackfill({ store, settings: { ...loadConfig({}).search, backfillBatchRows: 5, backfillPauseMs: 1 }, logger, registry })
    try {
      await vi.waitFor(() => expect(task.status()).toEqual({ unindexed: 0, running: false, failing: null }))
      expect((await store.query({ search: parseSearch('needle') }, { limit: 100 })).events).toHaveLength(30)
      expect(await metric(registry, 'auditq_search_unindexed_events')).toBe(0)
      expect(await metric(registry, 'auditq_search_backfilled_events_total')).toBe(12)
      expect(evaluateHealth({ ...quietFigures(), search_index: task.status() }, thresholds).findings).toEqual([])
    } finally {
      await task.stop()
      await store.close()
    }
  })

  it('a failing pass is shown as failing and retried', async () => {
    const store = await upgradedStore(10, 10)
    await store.close()
    const task = startSearchBackfill({ store, settings: { ...loadConfig({}).search, backfillRecheckMs: 1_000 }, logger })
    try {
      await vi.waitFor(() => expect(task.status().failing).toMatchObject({ message: expect.any(String) }))
      expect(evaluateHealth({ ...quietFigures(), search_index: { unindexed: 10, running: false, failing: task.status().failing } }, thresholds).issues[0]).toContain('the backfill is failing since')
    } finally {
      await task.stop()
    }
  })
})

function quietFigures() {
  return {
    mode: 'direct' as const, store: 'connected' as const, redis: null, queue_length: 0, current_batch_size: 0, inserts_last_minute: 0,
    failures_last_minute: 0, avg_batch_time_ms: 0, avg_batch_size: 0, total_dropped_events: 0, recent_dropped_events: 0, recent_window_seconds: 600, total_overflow_events: 0,
    total_spilled_events: 0, spill_waiting_events: 0, dead_letters: null, oldest_event_age_seconds: null, live_workers: 0,
    ingest_rate_per_second: 0, store_rate_per_second: 0, queue_growth_per_second: 0, arrival_rate_per_second: 0,
    total_received_events: 0, total_rejected_events: 0,
  }
}
