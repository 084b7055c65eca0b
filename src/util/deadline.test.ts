import { describe, expect, it } from 'vitest'
import { withDeadline } from './deadline.js'

describe('withDeadline', () => {
  it('gives the value when the work finishes in time, undefined when it is late or fails', async () => {
    await expect(withDeadline(Promise.resolve(7), 1_000)).resolves.toBe(7)
    await expect(withDeadline(new Promise(() => undefined), 20)).resolves.toBeUndefined()
    await expect(withDeadline(Promise.reject(new Error('down')), 1_000)).resolves.toBeUndefined()
  })

  it('does not wait out its timer once the work has settled', async () => {
    const started = Date.now()
    await withDeadline(Promise.resolve('fast'), 60_000)
    expect(Date.now() - started).toBeLessThan(1_000)
  })
})
