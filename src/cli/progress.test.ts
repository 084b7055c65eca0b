import { describe, expect, it } from 'vitest'
import { progress, progressLine } from './progress.js'

function fakeTerminal(isTTY: boolean) {
  const writes: string[] = []
  return { writes, stream: { isTTY, columns: 80, write: (chunk: string) => (writes.push(chunk), true) } }
}

describe('progress', () => {
  it('draws a bar with percentage, counts and rate', () => {
    expect(progressLine('export', 250, 1000, 2, 80)).toBe('export [##########------------------------------] 25% 250/1,000 125/s')
    expect(progressLine('export', 1500, undefined, 3, 80)).toBe('export 1,500 500/s')
  })

  it('draws on a terminal, throttled, and ends with the summary', () => {
    let t = 0
    const { writes, stream } = fakeTerminal(true)
    const bar = progress({ label: 'replay', total: 10, stream, now: () => t })
    for (let i = 0; i < 10; i++) {
      t += 30
      bar.tick()
    }
    bar.done('replayed 10')
    // 300 ms of ticks every 30 ms: about three redraws, not ten.
    expect(writes.length).toBeLessThan(8)
    expect(writes.at(-1)).toBe('\r\x1b[2Kreplayed 10\n')
    expect(writes.at(-2)).toMatch(/replay \[#+\] 100% 10\/10/)
  })

  it('writes nothing when the stream is not a terminal, or when disabled', () => {
    const piped = fakeTerminal(false)
    const bar = progress({ label: 'export', stream: piped.stream })
    bar.tick(5)
    bar.done('done')
    expect(piped.writes).toEqual([])
    const tty = fakeTerminal(true)
    progress({ label: 'export', stream: tty.stream, enabled: false }).done('x')
    expect(tty.writes).toEqual([])
  })
})
