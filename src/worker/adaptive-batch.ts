/**
 * Batch size follows the backlog: small batches keep latency low when the queue is short, large
 * ones amortize per-statement cost when it is long. Defaults (100 below 1,000 queued,
 * 300 below 5,000, 1,000 above) are the legacy processor's tiers, so a migrated deployment batches as before.
 */
export interface BatchTier {
  /** This tier applies while the queue depth is below this many entries. */
  belowDepth: number
  size: number
}

export interface AdaptiveBatchOptions {
  tiers: readonly BatchTier[]
  /** Size once the depth is above every tier. */
  maxSize: number
}

export const DEFAULT_ADAPTIVE_BATCH: AdaptiveBatchOptions = {
  tiers: [
    { belowDepth: 1_000, size: 100 },
    { belowDepth: 5_000, size: 300 },
  ],
  maxSize: 1_000,
}

export function batchSizeFor(depth: number, options: AdaptiveBatchOptions = DEFAULT_ADAPTIVE_BATCH): number {
  for (const tier of [...options.tiers].sort((a, b) => a.belowDepth - b.belowDepth)) {
    if (depth < tier.belowDepth) return tier.size
  }
  return options.maxSize
}
