/**
 * The search backfill: gives events stored before word search existed their search document, in
 * bounded batches, each its own short transaction, so it never holds a long lock and can stop at
 * any point. Resumable by construction: what is left to do is read from the store (PostgreSQL:
 * rows whose document is NULL; embedded: a position kept in the file), never from this process.
 * Store-agnostic; each store supplies a `SearchBackfillSource`.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface SearchFillResult {
  /** Rows this batch looked at (0: nothing left to look at). */
  examined: number
  /** Of those, rows that got a document (another process may have filled some first). */
  filled: number
}

export interface SearchBackfillSource {
  /** Events stored without a search document right now: exact, for health and progress. */
  countUnindexed(): Promise<number>
  /** Fills up to `limit` of them, newest first, in one transaction. */
  fillBatch(limit: number): Promise<SearchFillResult>
}

export interface BackfillOptions {
  batchRows: number
  /** Pause between batches, so ingest sharing the store is never starved by the backfill. */
  pauseMs: number
  signal?: AbortSignal
  /** Called after every batch with the running totals. */
  onBatch?: (progress: BackfillProgress) => void
}

export interface BackfillProgress {
  filled: number
  batches: number
  /** Still without a document: counted at start, lowered as batches fill, counted again at the end. */
  remaining: number
}

export interface BackfillReport extends BackfillProgress {
  /** True when `signal` stopped it before the store ran out of rows to fill. */
  stopped: boolean
  durationMs: number
}

export async function runSearchBackfill(source: SearchBackfillSource, options: BackfillOptions): Promise<BackfillReport> {
  const started = performance.now()
  const progress: BackfillProgress = { filled: 0, batches: 0, remaining: await source.countUnindexed() }
  let stopped = false
  // Nothing counted, nothing to walk: a store that never lacked documents costs one count.
  while (progress.remaining > 0) {
    if (options.signal?.aborted) {
      stopped = true
      break
    }
    const batch = await source.fillBatch(options.batchRows)
    if (batch.examined === 0) break
    progress.batches += 1
    progress.filled += batch.filled
    progress.remaining = Math.max(0, progress.remaining - batch.filled)
    options.onBatch?.({ ...progress })
    if (options.pauseMs > 0) {
      try {
        await sleep(options.pauseMs, undefined, options.signal ? { signal: options.signal } : {})
      } catch {
        // Aborted while pausing: the loop's check above reports it as stopped.
      }
    }
  }
  // Counted again: rows another process filled, or rows it held locked, make the running figure drift.
  progress.remaining = await source.countUnindexed()
  return { ...progress, stopped, durationMs: Math.round(performance.now() - started) }
}
