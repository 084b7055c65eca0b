import { validate as isUuid, version } from 'uuid'
import { describe, expect, it } from 'vitest'
import { newEventId } from './event-id.js'

describe('newEventId', () => {
  it('gives version 7 UUIDs, all different and strictly increasing within the process, across pool refills', () => {
    const ids = Array.from({ length: 5_000 }, () => newEventId())
    expect(ids.every((id) => isUuid(id) && version(id) === 7)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
  })

  it('carries the time it was made in its first 48 bits', () => {
    const before = Date.now()
    const id = newEventId()
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16)
    // Monotonicity may carry it a few ms past the clock after a burst, never before it.
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(ms).toBeLessThan(Date.now() + 1_000)
  })

  it('draws fresh random bits for each id: the last 62 bits of consecutive ids differ', () => {
    const tails = Array.from({ length: 1_000 }, () => newEventId().slice(-12))
    expect(new Set(tails).size).toBe(tails.length)
  })
})
