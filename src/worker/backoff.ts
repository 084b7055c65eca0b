export interface BackoffOptions {
  /** Attempts before the batch counts as a failure (it is still kept and retried, never dropped). */
  attempts: number
  initialDelayMs: number
  /** Ceiling for the delay once attempts are exhausted and the worker keeps waiting for the store. */
  maxDelayMs: number
}

/** 3 attempts, exponential from 2 s (≈6 s in all): the legacy processor's schedule, so a migrated deployment dead-letters at the same point. */
export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 3, initialDelayMs: 2_000, maxDelayMs: 30_000 }

/**
 * Delay before retry number `retry` (1-based): exponential with "equal jitter" — half fixed, half
 * random — so several workers that failed together do not hammer a recovering database in step.
 */
export function backoffDelayMs(retry: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, retry - 1))
  return Math.round(exponential / 2 + random() * (exponential / 2))
}
