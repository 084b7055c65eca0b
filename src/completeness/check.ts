import { computeCompleteness, missingCount, type ProducerCompleteness } from './compute.js'
import type { CompletenessFilter, CompletenessSource } from './source.js'

export interface CompletenessReport {
  checked_at: string
  in_flight_bound_ms: number
  /** Sequence numbers reported missing, over every producer listed. */
  missing_events: number
  producers: ProducerCompleteness[]
}

/** Reads islands and accounting records for the filter and computes each producer's gaps. */
export async function checkCompleteness(
  source: CompletenessSource,
  filter: CompletenessFilter,
  options: { now?: Date; inFlightBoundMs: number; since?: Date },
): Promise<CompletenessReport> {
  const now = options.now ?? new Date()
  const [islands, records] = await Promise.all([source.producerIslands(filter), source.accountingRecords(filter)])
  const producers = computeCompleteness(islands, records, { now, inFlightBoundMs: options.inFlightBoundMs, ...(options.since ? { since: options.since } : {}) })
  return { checked_at: now.toISOString(), in_flight_bound_ms: options.inFlightBoundMs, missing_events: missingCount(producers), producers }
}
