/**
 * `auditq worker --metrics-port` serves Prometheus metrics from the worker process; with
 * `--processes N` the cluster primary serves one endpoint summing every process (prom-client's
 * AggregatorRegistry over the cluster IPC channel), so one scrape target per host counts each
 * stored event once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { redisAvailable } from '../support/redis-server.js'
import { postgresAvailable } from '../support/services.js'
import { openDeployment, spawnCli, until, type CliProcess, type Deployment } from './harness.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())

function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

describe.skipIf(!hasServices)('worker metrics', () => {
  let deployment: Deployment | undefined
  let worker: CliProcess | undefined
  afterEach(async () => {
    if (worker) {
      worker.kill('SIGTERM')
      await worker.exited
    }
    worker = undefined
    await deployment?.dispose()
    deployment = undefined
  })

  it.each([1, 2])('with --processes %i, one /metrics counts every stored event once', async (processes) => {
    const d = (deployment = await openDeployment())
    worker = spawnCli(['worker', '--processes', String(processes), '--metrics-port', '0'], d.env)
    const listening = await worker.waitForLog('worker metrics listening')
    const url = String(listening.metrics_url)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

    const audit = await d.openLogger()
    await Promise.all(Array.from({ length: 300 }, (_, i) => audit.log({ action: 'metrics.run', actor_id: `m${i}` })))
    await until(async () => (await d.storedCount()) === 300, { timeoutMs: 30_000, intervalMs: 50, describe: () => worker!.tail() })

    let metrics = new Map<string, number>()
    await until(
      async () => {
        const response = await fetch(url)
        expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
        metrics = parse(await response.text())
        return metrics.get('auditq_worker_events_stored_total') === 300
      },
      { timeoutMs: 10_000, intervalMs: 100, describe: () => JSON.stringify(Object.fromEntries([...metrics].filter(([k]) => k.startsWith('auditq_')))) },
    )
    expect(metrics.get('auditq_batch_size_events_sum{path="worker"}')).toBe(300)
    expect(metrics.get('auditq_batch_insert_duration_seconds_count{path="worker"}')).toBeGreaterThanOrEqual(1)
    expect(metrics.get('auditq_events_dead_lettered_total')).toBe(0)
    expect(metrics.has('process_cpu_user_seconds_total')).toBe(true)
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404)
  })
})
