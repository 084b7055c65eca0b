/**
 * The background search backfill of `serve` (see src/query/search/backfill.ts). It counts the
 * events without a search document at start, so the gap is visible at once (log, health, metric),
 * then fills them batch by batch with a pause between, unless `search.backfillAtStart` is off.
 * While some remain (another process holds them, a pass failed, or the pass is off and an operator
 * runs `auditq search backfill`) it counts again, or retries, every `backfillRecheckMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import { SearchBackfillMetrics } from '../observability/search-metrics.js'
import { runSearchBackfill } from '../query/search/backfill.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'

/** How often a long pass logs its progress. */
const PROGRESS_LOG_MS = 10_000

export interface SearchIndexStatus {
  /** Events without a search document; null until first counted (or with a store that cannot tell). */
  unindexed: number | null
  running: boolean
  failing: { since: string; message: string } | null
}

export interface SearchBackfillTask {
  status(): SearchIndexStatus
  stop(): Promise<void>
}

export function startSearchBackfill(options: { store: Store; settings: Config['search']; logger: Logger; registry?: Registry }): SearchBackfillTask {
  const state: SearchIndexStatus = { unindexed: null, running: false, failing: null }
  const source = options.store.searchBackfill
  if (!source) return { status: () => ({ ...state }), stop: async () => undefined }
  const { settings } = options
  const logger = options.logger.child({ component: 'search-backfill' })
  const metrics = options.registry ? new SearchBackfillMetrics(options.registry, () => state.unindexed) : undefined
  const abort = new AbortController()

  const pass = async (): Promise<void> => {
    const counted = await source.countUnindexed()
    const first = state.unindexed === null
    state.unindexed = counted
    if (counted === 0) return
    if (first) {
      logger.warn({ unindexed_events: counted }, `${counted} events were stored before word search existed and have no search document: search does not find them ${settings.backfillAtStart ? 'until the background backfill has filled them' : 'until `auditq search backfill` runs'}`)
    }
    if (!settings.backfillAtStart) return
    state.running = true
    let lastLog = performance.now()
    let filledBefore = 0
    const report = await runSearchBackfill(source, {
      batchRows: settings.backfillBatchRows,
      pauseMs: settings.backfillPauseMs,
      signal: abort.signal,
      onBatch: (progress) => {
        state.unindexed = progress.remaining
        metrics?.filledEvents.inc(progress.filled - filledBefore)
        filledBefore = progress.filled
        if (performance.now() - lastLog >= PROGRESS_LOG_MS) {
          lastLog = performance.now()
          logger.info({ filled: progress.filled, remaining: progress.remaining }, 'search backfill in progress')
        }
      },
    })
    state.unindexed = report.remaining
    if (report.filled > 0) logger.info({ filled: report.filled, remaining: report.remaining, duration_ms: report.durationMs }, report.stopped ? 'search backfill stopped' : 'search backfill pass done')
  }

  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        await pass()
        state.failing = null
      } catch (error) {
        // Counted and shown (health finding, warn log), then retried: a store briefly down must
        // not leave events unsearchable for good.
        state.failing ??= { since: new Date().toISOString(), message: (error as Error).message }
        logger.warn({ err_message: (error as Error).message }, 'search backfill failed; retrying later')
      } finally {
        state.running = false
      }
      if (state.unindexed === 0) return
      try {
        await sleep(settings.backfillRecheckMs, undefined, { signal: abort.signal })
      } catch {
        return
      }
    }
  })()

  return {
    status: () => ({ ...state, failing: state.failing ? { ...state.failing } : null }),
    stop: async () => {
      abort.abort()
      await loop
    },
  }
}
