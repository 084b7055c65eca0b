import { checkCompleteness } from './check.js'
import type { CompletenessSource } from './source.js'

/**
 * The missing-events figure for monitoring: the check scans every producer's sequence, so it runs
 * at most every `everyMs`, in the background; a sample gets the latest finished figure (null until
 * the first check ends, or after one failed) and never waits for a scan.
 */
export function missingEventsMonitor(source: CompletenessSource, options: { inFlightBoundMs: number; everyMs: number; onError?: (error: Error) => void }): () => Promise<number | null> {
  let latest: number | null = null
  let checkedAt = -Infinity
  let running: Promise<void> | undefined
  return async () => {
    if (!running && Date.now() - checkedAt >= options.everyMs) {
      checkedAt = Date.now()
      running = checkCompleteness(source, {}, { inFlightBoundMs: options.inFlightBoundMs })
        .then((report) => void (latest = report.missing_events))
        .catch((error: Error) => {
          latest = null
          options.onError?.(error)
        })
        .finally(() => (running = undefined))
    }
    return latest
  }
}
