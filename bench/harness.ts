import { median } from './stats.js'

export interface Throughput {
  /** Calls per second, median of the samples. */
  hz: number
  /** Spread of the samples around the median, in percent (max deviation), to judge noise. */
  spreadPercent: number
}

/**
 * Calls per second of a synchronous `fn`: warms up (so the JIT has settled), sizes a sample to
 * ~`timeMs / samples`, then takes the median of the samples. For micro-benchmarks whose one call
 * costs microseconds; each call should do a batch of work, so timer overhead stays negligible.
 * The defaults (3 s, 1 s warm-up) steady the numbers on a shared, busy machine.
 */
export function measureSync(fn: () => void, options: { timeMs?: number; warmupMs?: number; samples?: number } = {}): Throughput {
  const { timeMs = 3_000, warmupMs = 1_000, samples = 15 } = options
  let calls = 0
  const warmupEnd = performance.now() + warmupMs
  while (performance.now() < warmupEnd) {
    fn()
    calls++
  }
  const callsPerSample = Math.max(1, Math.round(((calls / warmupMs) * timeMs) / samples))
  const rates: number[] = []
  for (let sample = 0; sample < samples; sample++) {
    const started = performance.now()
    for (let i = 0; i < callsPerSample; i++) fn()
    rates.push(callsPerSample / ((performance.now() - started) / 1_000))
  }
  const hz = median(rates)
  return { hz, spreadPercent: Math.max(...rates.map((rate) => Math.abs(rate - hz) / hz)) * 100 }
}

/** A number with thousands separators, for tables. */
export function formatRate(value: number): string {
  return Math.round(value).toLocaleString('en')
}
