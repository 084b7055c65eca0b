import { describe, expect, it } from 'vitest'
import { batchSizeFor } from './adaptive-batch.js'
import { backoffDelayMs } from './backoff.js'

describe('adaptive batch size', () => {
  it("follows the legacy processor's tiers: 100 below 1,000 queued, 300 below 5,000, 1,000 above", () => {
    expect(batchSizeFor(0)).toBe(100)
    expect(batchSizeFor(999)).toBe(100)
    expect(batchSizeFor(1_000)).toBe(300)
    expect(batchSizeFor(4_999)).toBe(300)
    expect(batchSizeFor(5_000)).toBe(1_000)
    expect(batchSizeFor(1e9)).toBe(1_000)
  })

  it('takes configured tiers in any order', () => {
    const options = { tiers: [{ belowDepth: 50, size: 5 }, { belowDepth: 10, size: 1 }], maxSize: 9 }
    expect([0, 10, 49, 50].map((depth) => batchSizeFor(depth, options))).toEqual([1, 5, 5, 9])
  })
})

describe('retry backoff', () => {
  it('doubles from the initial delay, with jitter between half and the full delay, up to the ceiling', () => {
    const options = { attempts: 3, initialDelayMs: 2_000, maxDelayMs: 30_000 }
    expect(backoffDelayMs(1, options, () => 0)).toBe(1_000)
    expect(backoffDelayMs(1, options, () => 1)).toBe(2_000)
    expect(backoffDelayMs(2, options, () => 1)).toBe(4_000)
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(6_000)
    expect(backoffDelayMs(20, options, () => 1)).toBe(30_000)
  })
})
