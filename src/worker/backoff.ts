import { CONFIG_DEFAULTS, type Config } from '../config.js'

export interface BackoffOptions {
  /** Attempts before the batch counts as a failure (it is still kept and retried, never dropped). */
  attempts: number
  initialDelayMs: number
  /** Ceiling for the delay once attempts are exhausted and the worker keeps waiting for the store. */
  maxDelayMs: number
}

/** The retry schedule of a `worker` config section (defaults and their reason in src/config/intake.ts). */
export function backoffFromConfig(worker: Pick<Config['worker'], 'retryAttempts' | 'retryInitialDelayMs' | 'retryMaxDelayMs'>): BackoffOptions {
  return { attempts: worker.retryAttempts, initialDelayMs: worker.retryInitialDelayMs, maxDelayMs: worker.retryMaxDelayMs }
}

/**
 * Delay before retry number `retry` (1-based): exponential with "equal jitter" — half fixed, half
 * random — so several workers that failed together do not hammer a recovering database in step.
 */
export function backoffDelayMs(retry: number, options: BackoffOptions = backoffFromConfig(CONFIG_DEFAULTS.worker), random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, retry - 1))
  return Math.round(exponential / 2 + random() * (exponential / 2))
}
