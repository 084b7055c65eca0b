import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../config.js'
import { buildServer } from '../http/server.js'
import { queueStatusReader } from '../queue/queue-status.js'
import { connectRedis } from '../queue/redis-streams/index.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime } from '../worker/runtime.js'
import { freshStore } from '../../test/support/app.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

interface Received {
  at: number
  body: { text: string; alert: { state: string; rule: string; status: string; dedupKey: string; issue: string; source: string; figures: Record<string, unknown> } }
}

/** A real HTTP receiver standing in for Slack or an incident tool. */
async function receiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = []
  const server = createServer((request, response) => {
    let data = ''
    request.on('data', (chunk: Buffer) => (data += chunk.toString()))
    request.on('end', () => {
      received.push({ at: Date.now(), body: JSON.parse(data) })
      response.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server }
}

async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe.skipIf(!hasRedis)('alert webhooks', () => {
  it('fire → no duplicate while it holds → resolve, then a re-fire waits out the cooldown; a dead receiver is counted', async () => {
    const hook = await receiver()
    const dead = createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/gone`
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    cleanups.push(async () => void (await new Promise((resolve) => hook.server.close(resolve))))

    const cooldownMs = 1_500
    const prefix = uniqueRedisPrefix('alerts')
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-alerts-'))
    const config = loadConfig({
      logLevel: 'silent',
      redisUrl: REDIS_URL,
      queue: { prefix },
      worker: { heartbeatEveryMs: 100, flushIntervalMs: 20 },
      monitoring: { sampleEveryMs: 100, alertWebhooks: [hook.url, deadUrl], alertCooldownMs: cooldownMs, alertRetries: 1, alertTimeoutMs: 1_000 },
    })
    const redis = connectRedis(REDIS_URL)
    const t = await freshStore('embedded')
    const audit = await createAuditLogger({ store: t.store, logger: silent, queue: { redis, prefix, spillDir } })
    const app = await buildServer({ config, audit, logger: silent, queueStatus: queueStatusReader(redis, config) })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
      await deleteKeys(redis, prefix)
      redis.disconnect()
      rmSync(spillDir, { recursive: true, force: true })
    })

    // No worker: the rule holds from the first sample.
    await until(() => hook.received.length >= 1, 'the firing notice')
    const [fired] = hook.received
    expect(fired!.body.alert).toMatchObject({ state: 'firing', rule: 'no_live_worker', status: 'degraded', dedupKey: `auditq:queue:${prefix}/default:no_live_worker`, source: `queue ${prefix}/default` })
    expect(fired!.body.text).toMatch(/^:warning: auditq queue .*: DEGRADED no_live_worker: no live queue worker/)
    expect(fired!.body.alert.figures).toMatchObject({ live_workers: 0 })

    // Many samples later the rule still holds: nothing more was sent.
    const samplesBefore = (await app.inject('/api/v1/monitoring/history')).json().samples.length
    await until(() => Date.now() - fired!.at > 1_000, 'time to pass')
    expect((await app.inject('/api/v1/monitoring/history')).json().samples.length).toBeGreaterThan(samplesBefore + 3)
    expect(hook.received).toHaveLength(1)

    const runtime = await startWorkerRuntime({ config, store: t.store, redis, logger: silent, workerId: 'alerts-w1' })
    let stopped = false
    cleanups.push(async () => void (stopped || (await runtime.stop())))
    await until(() => hook.received.length >= 2, 'the resolve notice')
    const resolved = hook.received[1]!
    expect(resolved.body.alert).toMatchObject({ state: 'resolved', rule: 'no_live_worker', dedupKey: fired!.body.alert.dedupKey })
    expect(resolved.body.text).toMatch(/^:white_check_mark: auditq .*: RESOLVED no_live_worker/)

    // The worker goes away again at once: the rule holds again, but within the cooldown it is held back.
    await runtime.stop() // its heartbeat key expires within 3 beats
    stopped = true
    await until(() => hook.received.length >= 3, 'the second firing, after the cooldown')
    const refired = hook.received[2]!
    expect(refired.body.alert).toMatchObject({ state: 'firing', rule: 'no_live_worker' })
    expect(refired.at - resolved.at).toBeGreaterThanOrEqual(cooldownMs - 150)
    expect(hook.received).toHaveLength(3)

    // The dead receiver got nothing; each of its deliveries failed after one retry, counted.
    let metrics = ''
    const deadline = Date.now() + 10_000
    while (!/auditq_alert_notifications_total\{state="firing",outcome="failed"\} 2\n/.test(metrics) && Date.now() < deadline) {
      metrics = (await app.inject('/metrics')).body
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(metrics).toMatch(/auditq_alert_notifications_total\{state="firing",outcome="failed"\} 2\n/)
    expect(metrics).toMatch(/auditq_alert_notifications_total\{state="resolved",outcome="failed"\} 1\n/)
    expect(metrics).toMatch(/auditq_alert_notifications_total\{state="firing",outcome="delivered"\} 2\n/)
    expect(metrics).toMatch(/auditq_alert_notifications_total\{state="resolved",outcome="delivered"\} 1\n/)
  })
})
