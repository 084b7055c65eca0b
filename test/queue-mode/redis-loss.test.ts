/**
 * A Redis that loses the queue must not pass unnoticed. A private `redis-server` holding a backlog
 * (no worker running) is killed with SIGKILL and started again on the same port: without
 * persistence it comes back empty, and `auditq serve` says so at once — an error log, the
 * `redis_data_lost` finding in /health with the number of events exposed, the alert, the metrics —
 * and keeps saying so, worker or not, until `auditq queue ack-loss`. With `appendonly yes` the same
 * crash keeps everything, and nothing is reported lost.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { RedisStreamsProducer } from '../../src/queue/redis-streams/index.js'
import { storedEvent } from '../support/events.js'
import { redisServerAvailable, startRedisServer, type RedisTestServer } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { openDeployment, sleep, spawnCli, until, type CliProcess, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && redisServerAvailable()

interface Notice {
  alert: { state: string; rule: string; status: string; issue: string }
}

/** A real HTTP receiver standing in for the operators' incident tool. */
async function alertReceiver(): Promise<{ url: string; received: Notice[]; server: Server }> {
  const received: Notice[] = []
  const server = createServer((request, response) => {
    let data = ''
    request.on('data', (chunk: Buffer) => (data += chunk.toString()))
    request.on('end', () => {
      received.push(JSON.parse(data) as Notice)
      response.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server }
}

async function listeningAddress(server: CliProcess): Promise<string> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const line = server.logs().find((l) => typeof l.address === 'string')
    if (line) return line.address as string
    await sleep(50)
  }
  throw new Error(`auditq serve did not start:\n${server.tail()}`)
}

interface AuditMetrics {
  health: { status: string; issues: string[]; findings: { rule: string; status: string; issue: string }[] }
  metrics: { queue_length: number | null }
}

describe.skipIf(!hasServices)('queue mode: Redis restarts and loses the queue', () => {
  let redisServer: RedisTestServer | undefined
  let deployment: Deployment | undefined
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
    await deployment?.dispose()
    await redisServer?.destroy()
    deployment = undefined
    redisServer = undefined
  })

  /** `auditq serve --no-worker` on the deployment, sampling fast, alerting to `webhook`. */
  async function serve(d: Deployment, webhook: string): Promise<{ base: string; process: CliProcess }> {
    const child = spawnCli(['serve', '--port', '0', '--no-worker'], { ...d.env, AUDITQ_ALERT_WEBHOOKS: webhook, AUDITQ_MONITOR_SAMPLE_MS: '200' })
    cleanups.push(async () => {
      child.kill('SIGTERM')
      await child.exited
    })
    return { base: await listeningAddress(child), process: child }
  }

  const auditMetrics = async (base: string) => (await (await fetch(`${base}/api/v1/monitoring/audit-metrics`)).json()) as AuditMetrics
  const metricValue = async (base: string, series: string) => {
    const text = await (await fetch(`${base}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${series} `))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  }

  it('without persistence: the loss is logged, in /health with the events exposed, alerted and counted, and stays until acknowledged', async () => {
    redisServer = await startRedisServer()
    const d = (deployment = await openDeployment({ redisUrl: redisServer.url }))
    const hook = await alertReceiver()
    cleanups.push(() => new Promise((resolve) => hook.server.close(resolve)))
    const { base, process: service } = await serve(d, hook.url)
    // Start-up says plainly, as a warning, that a Redis crash loses everything queued.
    const durabilityLine = service.logs().find((line) => line.loss_window !== undefined)
    expect(durabilityLine).toMatchObject({ loss_window: 'everything-queued', level: 40 })

    // A backlog with no worker to drain it, seen by the service.
    const backlog = 2_000
    await new RedisStreamsProducer({ redis: d.redis, keys: d.keys, capEvents: 1_000_000 }).enqueue(Array.from({ length: backlog }, () => storedEvent()))
    await until(async () => (await auditMetrics(base)).metrics.queue_length === backlog, { timeoutMs: 10_000, describe: () => service.tail() })

    await redisServer.kill()
    await redisServer.restart()
    expect(await d.redis.xlen(d.keys.events)).toBe(0) // It really came back empty.

    await until(async () => (await auditMetrics(base)).health.findings.some((f) => f.rule === 'redis_data_lost'), { timeoutMs: 15_000, describe: () => service.tail() })
    const health = await auditMetrics(base)
    expect(health.health.status).toBe('critical')
    expect(health.health.findings.find((f) => f.rule === 'redis_data_lost')!.issue).toContain('about 2,000 acknowledged events')
    const publicHealth = await fetch(`${base}/api/v1/monitoring/health`)
    expect(publicHealth.status).toBe(503)
    expect(((await publicHealth.json()) as { issues: string[] }).issues.join('\n')).toMatch(/redis lost queued events/)

    const errorLines = service.logs().filter((line) => line.level === 50 && String(line.msg).startsWith('redis lost the queue'))
    expect(errorLines).toHaveLength(1)
    expect(errorLines[0]).toMatchObject({ cause: 'restarted-empty', events_exposed: backlog })

    const listed = await d.runCli(['queue', 'losses', '--format', 'json'])
    expect(listed.code).toBe(0)
    const losses = (JSON.parse(listed.stdout) as { losses: { id: string; eventsExposed: number; cause: string }[] }).losses
    expect(losses).toHaveLength(1)
    expect(losses[0]).toMatchObject({ eventsExposed: backlog, cause: 'restarted-empty' })

    await until(async () => (await metricValue(base, 'auditq_queue_redis_loss_exposed_events')) === backlog, { timeoutMs: 5_000, describe: () => 'gauge' })
    expect(await metricValue(base, 'auditq_queue_redis_resets_total{outcome="data_lost"}')).toBe(1)
    await until(async () => hook.received.some((n) => n.alert.rule === 'redis_data_lost' && n.alert.state === 'firing'), { timeoutMs: 10_000, describe: () => JSON.stringify(hook.received) })
    expect(hook.received.find((n) => n.alert.rule === 'redis_data_lost')!.alert.status).toBe('critical')

    // The pipeline works again (a worker drains new events), yet the finding stays: only an operator clears it.
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')
    await new RedisStreamsProducer({ redis: d.redis, keys: d.keys, capEvents: 1_000_000 }).enqueue([storedEvent()])
    await until(async () => (await d.storedCount()) === 1, { timeoutMs: 15_000, describe: () => worker.tail() })
    expect((await auditMetrics(base)).health.findings.map((f) => f.rule)).toContain('redis_data_lost')

    // Over HTTP (admin): a wrong id or an empty body acknowledges nothing.
    const ackOverHttp = (body: unknown) => fetch(`${base}/api/v1/monitoring/redis-losses/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const wrongId = await ackOverHttp({ ids: ['no-such-loss'] })
    expect(wrongId.status).toBe(404)
    expect(((await wrongId.json()) as { code: string }).code).toBe('AUDITQ_NOT_FOUND')
    const empty = await ackOverHttp({})
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as { code: string }).code).toBe('AUDITQ_BAD_REQUEST')
    expect((await auditMetrics(base)).health.findings.map((f) => f.rule)).toContain('redis_data_lost')

    const acked = await d.runCli(['queue', 'ack-loss', '--id', losses[0]!.id])
    expect(acked.code).toBe(0)
    expect(acked.stdout).toContain(`acknowledged ${losses[0]!.id}`)
    await until(async () => !(await auditMetrics(base)).health.findings.some((f) => f.rule === 'redis_data_lost'), { timeoutMs: 10_000, describe: () => service.tail() })
    await until(async () => hook.received.some((n) => n.alert.rule === 'redis_data_lost' && n.alert.state === 'resolved'), { timeoutMs: 10_000, describe: () => JSON.stringify(hook.received) })
    expect(await metricValue(base, 'auditq_queue_redis_loss_exposed_events')).toBe(0)
    const nothingLeft = await d.runCli(['queue', 'ack-loss', '--all'])
    expect(nothingLeft.code).toBe(1)
    expect(nothingLeft.stderr).toContain('[AUDITQ_NOT_FOUND]')
    expect((await ackOverHttp({ all: true })).status).toBe(404)
    worker.kill('SIGTERM')
    await worker.exited
  }, 120_000)

  it('with appendonly yes: a crash that kept the queue is a restart, not a loss', async () => {
    redisServer = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
    const d = (deployment = await openDeployment({ redisUrl: redisServer.url }))
    const hook = await alertReceiver()
    cleanups.push(() => new Promise((resolve) => hook.server.close(resolve)))
    const { base, process: service } = await serve(d, hook.url)
    expect(service.logs().find((line) => line.loss_window !== undefined)).toMatchObject({ loss_window: 'nothing', level: 30 })

    const backlog = 500
    await new RedisStreamsProducer({ redis: d.redis, keys: d.keys, capEvents: 1_000_000 }).enqueue(Array.from({ length: backlog }, () => storedEvent()))
    await until(async () => (await auditMetrics(base)).metrics.queue_length === backlog, { timeoutMs: 10_000, describe: () => service.tail() })

    await redisServer.kill()
    await redisServer.restart()
    await until(async () => service.logs('redis restarted and kept the queue (its identity key survived)').length === 1, { timeoutMs: 15_000, describe: () => service.tail() })
    const health = await auditMetrics(base)
    expect(health.metrics.queue_length).toBe(backlog)
    expect(health.health.findings.map((f) => f.rule)).not.toContain('redis_data_lost')
    expect(await metricValue(base, 'auditq_queue_redis_resets_total{outcome="data_kept"}')).toBe(1)
    expect(await metricValue(base, 'auditq_queue_redis_resets_total{outcome="data_lost"}')).toBe(0)
    expect(await metricValue(base, 'auditq_queue_redis_loss_exposed_events')).toBe(0)
    expect(service.logs().filter((line) => String(line.msg).startsWith('redis lost the queue'))).toEqual([])
    expect(hook.received.filter((n) => n.alert.rule === 'redis_data_lost')).toEqual([])
    expect((await d.runCli(['queue', 'losses'])).stdout).toBe('no unacknowledged Redis losses\n')
    const unnamed = await d.runCli(['queue', 'ack-loss'])
    expect(unnamed.code).toBe(2)
    expect(unnamed.stderr).toContain('[AUDITQ_BAD_REQUEST]')
  }, 120_000)
})
