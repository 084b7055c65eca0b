/**
 * Delay before retry `retry` (1-based): exponential with full jitter (uniform in 0…exponential),
 * so many streams failing against one receiver spread their retries instead of arriving in step.
 * A receiver's Retry-After is a floor: it asked for at least that long, even above the ceiling.
 */
export function retryDelayMs(retry: number, options: { initialDelayMs: number; maxDelayMs: number; retryAfterMs?: number }, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.max(0, retry - 1))
  const jittered = Math.round(random() * exponential)
  return Math.max(jittered, options.retryAfterMs ?? 0)
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
