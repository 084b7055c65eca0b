import { describe, expect, it } from 'vitest'
import { createLogger } from '../util/logger.js'
import { Lifecycle } from './lifecycle.js'

const logger = createLogger({ level: 'silent' })

describe('Lifecycle', () => {
  it('stops components newest first, each once, however often stop is called', async () => {
    const lifecycle = new Lifecycle(logger)
    const stopped: string[] = []
    for (const name of ['store', 'http', 'worker']) lifecycle.add(name, () => void stopped.push(name))
    const [first, second] = await Promise.all([lifecycle.stop({ deadlineMs: 1_000 }), lifecycle.stop({ deadlineMs: 1_000 })])
    expect(stopped).toEqual(['worker', 'http', 'store'])
    expect([first, second]).toEqual([true, true])
  })

  it('a start that throws stops what it registered, then rethrows', async () => {
    const lifecycle = new Lifecycle(logger)
    const stopped: string[] = []
    await expect(
      lifecycle.start(async () => {
        lifecycle.add('redis', () => void stopped.push('redis'))
        lifecycle.add('store', () => void stopped.push('store'))
        throw new Error('listen EADDRINUSE')
      }, { deadlineMs: 1_000 }),
    ).rejects.toThrow('EADDRINUSE')
    expect(stopped).toEqual(['store', 'redis'])
  })

  it('a stop that fails, refuses or hangs makes the outcome unclean, and the rest still stop', async () => {
    const lifecycle = new Lifecycle(logger)
    const stopped: string[] = []
    lifecycle.add('store', () => void stopped.push('store'))
    lifecycle.add('hangs', () => new Promise(() => undefined))
    lifecycle.add('refuses', () => false)
    lifecycle.add('throws', () => {
      throw new Error('boom')
    })
    const started = Date.now()
    await expect(lifecycle.stop({ deadlineMs: 300 })).resolves.toBe(false)
    expect(stopped).toEqual(['store'])
    // The hanging stop was given the rest of the deadline, not forever.
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})
