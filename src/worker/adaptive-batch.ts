import { CONFIG_DEFAULTS } from '../config.js'

/**
 * Batch size follows the backlog: small batches keep latency low when the queue is short, large
 * ones amortize per-statement cost when it is long. The default tiers are `worker.batch` in src/config/intake.ts.
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

export function batchSizeFor(depth: number, options: AdaptiveBatchOptions = CONFIG_DEFAULTS.worker.batch): number {
  for (const tier of [...options.tiers].sort((a, b) => a.belowDepth - b.belowDepth)) {
    if (depth < tier.belowDepth) return tier.size
  }
  return options.maxSize
}
