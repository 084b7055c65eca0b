import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../util/logger.js'
import { AlertDelivery, type DeliveryOutcome } from './alert-delivery.js'
import type { AlertNotice } from './alerts.js'

const silent = createLogger({ level: 'silent' })
const notice: AlertNotice = { state: 'firing', rule: 'no_live_worker', status: 'degraded', issue: 'no live queue worker', dedupKey: 'auditq:test:no_live_worker', firedAt: new Date(0).toISOString() }

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A real receiver that accepts every request and never answers it (a hung incident tool). */
async function silentReceiver(): Promise<{ url: string; requests: () => number }> {
  const held: ServerResponse[] = []
  const server = createServer((_request, response) => void held.push(response))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests: () => held.length }
}

describe('alert delivery at shutdown', () => {
  it('close() aborts deliveries to a receiver that never answers after a short grace, and counts them as aborted', async () => {
    const receiver = await silentReceiver()
    const outcomes: DeliveryOutcome[] = []
    // The production defaults: 5 s per try, 2 retries — waiting them out takes over 15 s.
    const delivery = new AlertDelivery({ urls: [receiver.url], timeoutMs: 5_000, retries: 2, logger: silent, source: 'test', onDelivery: (_state, outcome) => outcomes.push(outcome) })
    delivery.send([notice, { ...notice, rule: 'dead_letters', dedupKey: 'auditq:test:dead_letters' }], undefined)
    const deadline = Date.now() + 5_000
    while (receiver.requests() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(receiver.requests()).toBe(2)

    const started = Date.now()
    await delivery.close()
    const tookMs = Date.now() - started
    // Bounded well below the first try's own 5 s timeout: only the abort can end it this soon.
    expect(tookMs).toBeLessThan(4_500)
    expect(outcomes).toEqual(['aborted', 'aborted'])
  }, 30_000)

  it('a delivery that finishes within the grace is delivered, not aborted', async () => {
    const server = createServer((_request, response) => void setTimeout(() => response.writeHead(200).end('ok'), 200))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => void (await new Promise((resolve) => server.close(resolve))))
    const outcomes: DeliveryOutcome[] = []
    const delivery = new AlertDelivery({ urls: [`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`], timeoutMs: 5_000, retries: 2, logger: silent, source: 'test', onDelivery: (_state, outcome) => outcomes.push(outcome) })
    delivery.send([notice], undefined)
    await delivery.close()
    expect(outcomes).toEqual(['delivered'])
  })
})
