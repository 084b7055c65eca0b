import { describe, expect, it } from 'vitest'
import { parseLsn, stalenessMs } from './replica-router.js'

describe('read replica lag arithmetic', () => {
  it('reads WAL positions as PostgreSQL prints them', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n)
    expect(() => parseLsn('nope')).toThrow(/WAL position/)
  })

  it('bounds staleness by the latest primary position the replica has replayed', () => {
    const samples = [
      { at: 1_000, lsn: 100n },
      { at: 2_000, lsn: 200n },
      { at: 3_000, lsn: 300n },
    ]
    // Replayed everything the primary had at the last probe: only the time since then.
    expect(stalenessMs(samples, 300n, 3_050)).toBe(50)
    // Between two samples: it has at least what the primary had at 2,000.
    expect(stalenessMs(samples, 250n, 3_050)).toBe(1_050)
    // Behind every sample kept: at least as old as the oldest.
    expect(stalenessMs(samples, 50n, 3_050)).toBe(2_050)
    expect(stalenessMs([], 50n, 3_050)).toBe(Number.POSITIVE_INFINITY)
  })
})
