import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig, type ConfigInput } from '../config.js'
import { queueStatusReader } from '../queue/queue-status.js'
import { connectRedis } from '../queue/redis-streams/index.js'
import { newRegistry, ServiceMetrics } from '../observability/metrics.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import type { PostgresStore } from '../store/postgres/postgres-store.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime } from '../worker/runtime.js'
import { OPEN_PRINCIPAL, type Principal } from '../auth/principal.js'
import { buildServer } from './server.js'
import { freshStore, type StoreKind } from '../../test/support/app.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { POSTGRES_URL, postgresAvailable, REDIS_URL } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const hasRedis = await redisAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const silent = createLogger({ level: 'silent' })
/** Fast sampling so a test sees history and rates within a second. */
const FAST: Partial<ConfigInput> = { logLevel: 'silent', monitoring: { sampleEveryMs: 100, rateWindowMs: 300 } }

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function directService(kind: StoreKind, overrides: Partial<ConfigInput> = {}, resolvePrincipal?: () => Principal) {
  const t = await freshStore(kind)
  const config = loadConfig(FAST, overrides)
  // As `auditq serve` does: the metrics exist first so the SDK's hooks feed them.
  const metrics = new ServiceMetrics(newRegistry())
  const audit = await createAuditLogger({ store: t.store, logger: silent, ...metrics.sdkHooks })
  const app = await buildServer({ config, audit, logger: silent, metrics, ...(resolvePrincipal ? { resolvePrincipal } : {}) })
  cleanups.push(async () => {
    await app.close()
    await audit.close()
    await t.dispose()
  })
  return { app, audit, store: t.store }
}

const ingest = (app: Awaited<ReturnType<typeof directService>>['app'], count: number, action = 'monitored.action') =>
  app.inject({ method: 'POST', url: '/v1/events', payload: Array.from({ length: count }, (_, i) => ({ action, actor_id: `u${i}` })) })

/** Parses the Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

async function scrape(app: { inject: (url: string) => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }> }) {
  const response = await app.inject('/metrics')
  expect(response.statusCode).toBe(200)
  expect(String(response.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseMetrics(response.body)
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.each(kinds)('monitoring endpoints in direct mode over the %s store', (kind) => {
  it('audit-metrics has the legacy shape and counts what was stored and refused', async () => {
    const { app } = await directService(kind)
    expect((await ingest(app, 25)).statusCode).toBe(202)
    const bad = await app.inject({ method: 'POST', url: '/v1/events', payload: [{ action: '' }, { action: 'ok.one' }] })
    expect(bad.json().rejected).toHaveLength(1)

    const response = await app.inject('/api/v1/monitoring/audit-metrics')
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body).toMatchObject({
      health: { status: 'healthy', issues: [] },
      metrics: {
        mode: 'direct',
        queue_length: 0,
        inserts_last_minute: 26,
        failures_last_minute: 0,
        total_dropped_events: 0,
        total_overflow_events: 0,
        total_spilled_events: 0,
        dead_letters: 0,
        oldest_event_age_seconds: null,
        live_workers: 0,
        total_received_events: 27,
        total_rejected_events: 1,
      },
      recommendations: [{ severity: 'info', message: 'All systems operating normally.' }],
    })
    for (const key of ['current_batch_size', 'avg_batch_time_ms', 'ingest_rate_per_second', 'store_rate_per_second']) expect(typeof body.metrics[key]).toBe('number')
    expect(Date.parse(body.timestamp)).not.toBeNaN()
  })

  it('history grows every interval, oldest first, and shows the rates of what was ingested', async () => {
    const { app } = await directService(kind)
    await ingest(app, 200)
    const history = await until(
      async () => (await app.inject('/api/v1/monitoring/history')).json(),
      (body) => body.samples.some((s: { store_rate_per_second: number }) => s.store_rate_per_second > 0) && body.samples.length >= 4,
      'samples with a store rate',
    )
    expect(history.interval_ms).toBe(100)
    const times = history.samples.map((s: { t: string }) => Date.parse(s.t))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(history.samples.at(-1)).toMatchObject({ status: 'healthy', queue_length: 0, live_workers: 0, dead_letters: 0, total_dropped_events: 0 })
    expect(Object.keys(history.samples[0]).sort()).toEqual(
      ['t', 'status', 'queue_length', 'oldest_event_age_seconds', 'ingest_rate_per_second', 'store_rate_per_second', 'arrival_rate_per_second', 'avg_batch_size', 'total_dropped_events', 'total_overflow_events', 'total_spilled_events', 'dead_letters', 'live_workers'].sort(),
    )
  })

  it('/metrics exposes the counters, histograms and gauges by name, with bounded labels', async () => {
    const { app, audit } = await directService(kind)
    expect((await ingest(app, 25)).statusCode).toBe(202)
    await app.inject({ method: 'POST', url: '/v1/events', payload: [{ action: '' }, { action: 'ok.one' }] })
    await audit.log({ action: 'sdk.call', actor_id: 'sdk-actor-7' })
    // Gauges come from the latest sample: wait for one taken after the last commit, not one that
    // caught an event between acceptance and commit on a slow machine.
    await until(
      async () => (await app.inject('/api/v1/monitoring/history')).json().samples as { queue_length: number }[],
      (samples) => samples.length >= 2 && samples.at(-1)!.queue_length === 0,
      'a second sample, taken after the last commit',
    )
    const metrics = await scrape(app)
    expect(metrics.get('auditq_events_received_total')).toBe(28)
    expect(metrics.get('auditq_events_accepted_total')).toBe(27)
    expect(metrics.get('auditq_events_stored_total')).toBe(27)
    expect(metrics.get('auditq_events_rejected_total{reason="required"}')).toBe(1)
    expect(metrics.get('auditq_ingest_request_duration_seconds_count{status_class="2xx"}')).toBe(2)
    expect(metrics.get('auditq_log_duration_seconds_count')).toBe(1)
    expect(metrics.get('auditq_batch_size_events_sum{path="direct"}')).toBe(27)
    expect(metrics.get('auditq_batch_insert_duration_seconds_count{path="direct"}')).toBeGreaterThanOrEqual(2)
    expect(metrics.get('auditq_batch_failures_total{path="direct"}')).toBe(0)
    expect(metrics.get('auditq_queue_depth_events')).toBe(0)
    expect(metrics.get('auditq_oldest_unstored_event_age_seconds')).toBe(0)
    expect(metrics.get('auditq_store_up')).toBe(1)
    expect(metrics.get('auditq_health_status')).toBe(0)
    expect(metrics.get('auditq_health_rule_firing{rule="store_unreachable"}')).toBe(0)
    for (const name of ['auditq_events_dropped_total', 'auditq_events_overflowed_total', 'auditq_events_spilled_total', 'auditq_events_dead_lettered_total', 'auditq_dead_letters_events', 'auditq_spill_journal_bytes', 'auditq_live_workers']) {
      expect(metrics.get(name), name).toBe(0)
    }
    if (kind === 'postgres') {
      // The sole writer: of its three commits, the two after the first came with their links, taken.
      expect(metrics.get('auditq_chain_link_offers_total{outcome="taken"}')).toBe(2)
      expect(metrics.get('auditq_chain_link_offers_total{outcome="refused"}')).toBe(0)
    } else {
      expect(metrics.has('auditq_chain_link_offers_total{outcome="taken"}')).toBe(false)
    }
    expect(metrics.has('process_cpu_user_seconds_total')).toBe(true)
    expect(metrics.has('nodejs_heap_size_used_bytes')).toBe(true)
    // No actor, tenant or event id ever becomes a label value (a rule's name may contain the word).
    const keys = [...metrics.keys()].join('\n')
    expect(keys).not.toMatch(/sdk-actor-7|u1\b|="default"/)
    const names = new Set([...metrics.keys()].map((key) => key.replace(/\{.*$/, '')).filter((name) => name.startsWith('auditq_')))
    for (const name of names) expect(name, 'unit in the name').toMatch(/_(total|seconds|bytes|events|workers|status|up|firing)(_bucket|_sum|_count)?$/)
  })

  it('health shows status and services to everyone, figures only to admins', async () => {
    const noScopes: Principal = { keyId: null, tenantId: null, scopes: new Set() }
    const anonymous = await directService(kind, {}, () => noScopes)
    const publicBody = (await anonymous.app.inject('/api/v1/monitoring/health')).json()
    expect(publicBody).toEqual({ status: 'healthy', services: { store: 'connected', redis: 'not used (direct mode)', audit_worker: 'not used (direct mode)' }, timestamp: expect.any(String) })
    expect((await anonymous.app.inject('/api/v1/monitoring/audit-metrics')).statusCode).toBe(403)
    expect((await anonymous.app.inject('/api/v1/monitoring/history')).statusCode).toBe(403)

    const admin = await directService(kind, {}, () => OPEN_PRINCIPAL)
    const adminBody = (await admin.app.inject('/api/v1/monitoring/health')).json()
    expect(adminBody).toMatchObject({ status: 'healthy', issues: [], pipeline: { mode: 'direct', pending: 0 } })
  })
})

describe.each(kinds)('the public health check under a flood (%s store)', (kind) => {
  it('concurrent health requests share one read: one store ping, not one per request', async () => {
    const t = await freshStore(kind)
    // The store is the dependency being counted, not the unit under test: a slow ping keeps the
    // read in flight while the whole flood arrives.
    let pings = 0
    const store = new Proxy(t.store, {
      get(target, property, receiver) {
        if (property === 'ping') {
          return async () => {
            pings += 1
            await new Promise((resolve) => setTimeout(resolve, 200))
            return target.ping()
          }
        }
        const value: unknown = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    // No periodic sample during the test: every ping after start comes from a health request.
    const config = loadConfig({ logLevel: 'silent', monitoring: { sampleEveryMs: 600_000 } })
    const audit = await createAuditLogger({ store, logger: silent })
    const app = await buildServer({ config, audit, logger: silent })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
    })
    const before = pings
    const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject('/api/v1/monitoring/health')))
    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(200))
    expect(pings - before).toBe(1)
    // Not a cached answer: the next request reads again.
    expect((await app.inject('/api/v1/monitoring/health')).statusCode).toBe(200)
    expect(pings - before).toBe(2)
  })
})

describe.skipIf(!hasPostgres)('direct mode with the store stuck behind a lock', () => {
  it('pending group-commit events are the queue: its length and the oldest age rise, the status turns degraded, then recovers', async () => {
    const { app, audit, store } = await directService('postgres', { monitoring: { thresholds: { queueLengthDegraded: 3, oldestEventAgeSecondsDegraded: 0.3 } } })
    const locker = new pg.Client({ connectionString: POSTGRES_URL })
    await locker.connect()
    cleanups.push(async () => void (await locker.end()))
    await locker.query('begin')
    await locker.query(`lock table "${(store as PostgresStore).schemaName}".audit_logs in access exclusive mode`)

    const logged = Array.from({ length: 10 }, (_, i) => audit.log({ action: 'stuck.event', actor_id: `s${i}` }))
    const stuck = await until(
      async () => (await app.inject('/api/v1/monitoring/audit-metrics')).json(),
      (body) => body.metrics.oldest_event_age_seconds > 0.3,
      'the oldest pending event to age',
    )
    expect(stuck.health.status).toBe('degraded')
    // All ten share the commit stuck on the lock: in flight counts as not yet stored.
    expect(stuck.metrics.queue_length).toBe(10)
    expect(stuck.health.findings.map((f: { rule: string }) => f.rule)).toEqual(['queue_backed_up', 'oldest_event_too_old'])
    expect(stuck.recommendations[0].message).toMatch(/^The store commits \d+ events\/s against \d+ arriving/)
    const health = await app.inject('/api/v1/monitoring/health')
    expect(health.statusCode).toBe(503)

    await locker.query('rollback')
    await Promise.all(logged)
    const recovered = (await app.inject('/api/v1/monitoring/audit-metrics')).json()
    expect(recovered).toMatchObject({ health: { status: 'healthy' }, metrics: { queue_length: 0, oldest_event_age_seconds: null, inserts_last_minute: 10 } })
  })
})

describe.skipIf(!hasRedis)('monitoring endpoints in queue mode', () => {
  async function queueService(overrides: Partial<ConfigInput> = {}) {
    const prefix = uniqueRedisPrefix('monitoring')
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-monitoring-'))
    const config = loadConfig(FAST, { redisUrl: REDIS_URL, queue: { prefix }, worker: { heartbeatEveryMs: 100, flushIntervalMs: 20 } }, overrides)
    const redis = connectRedis(REDIS_URL)
    const t = await freshStore('embedded')
    const metrics = new ServiceMetrics(newRegistry())
    const audit = await createAuditLogger({ store: t.store, logger: silent, queue: { redis, prefix, spillDir }, ...metrics.sdkHooks })
    const app = await buildServer({ config, audit, logger: silent, metrics, queueStatus: queueStatusReader(redis, config) })
    cleanups.push(async () => {
      await app.close()
      await audit.close()
      await t.dispose()
      await deleteKeys(redis, prefix)
      redis.disconnect()
      rmSync(spillDir, { recursive: true, force: true })
    })
    return { app, audit, config, redis, store: t.store, metrics }
  }

  it('a queue backing up with no worker: queue length, oldest age and issues rise; a worker drains it back to healthy', async () => {
    const { app, config, redis, store, metrics: serviceMetrics } = await queueService({ monitoring: { thresholds: { queueLengthDegraded: 20, oldestEventAgeSecondsDegraded: 0.5 } } })
    expect((await ingest(app, 50)).statusCode).toBe(202)

    const backed = await until(
      async () => (await app.inject('/api/v1/monitoring/audit-metrics')).json(),
      (body) => body.metrics.oldest_event_age_seconds > 0.5,
      'the oldest queued event to age',
    )
    expect(backed.metrics).toMatchObject({ mode: 'queue', queue_length: 50, live_workers: 0, dead_letters: 0, inserts_last_minute: 0 })
    expect(backed.health.status).toBe('degraded')
    expect(backed.health.findings.map((f: { rule: string }) => f.rule)).toEqual(['no_live_worker', 'queue_backed_up', 'oldest_event_too_old'])
    expect(backed.health.issues[0]).toMatch(/no live queue worker/)
    expect(backed.recommendations.map((r: { message: string }) => r.message)).toContain(
      'No worker has sent a heartbeat: 50 queued events are not being stored. Start one with `auditq worker` (or `auditq serve` without --no-worker).',
    )
    const gauges = await until(() => scrape(app), (m) => m.get('auditq_queue_depth_events') === 50 && (m.get('auditq_oldest_unstored_event_age_seconds') ?? 0) > 0.5, 'gauges of the backlog')
    expect(gauges.get('auditq_live_workers')).toBe(0)
    expect(gauges.get('auditq_health_status')).toBe(2)
    expect(gauges.get('auditq_health_rule_firing{rule="no_live_worker"}')).toBe(1)
    expect(gauges.get('auditq_health_rule_firing{rule="queue_backed_up"}')).toBe(1)
    const health = await app.inject('/api/v1/monitoring/health')
    expect(health.statusCode).toBe(503)
    expect(health.json()).toMatchObject({ status: 'degraded', services: { store: 'connected', redis: 'connected', audit_worker: 'not running' } })

    const runtime = await startWorkerRuntime({ config, store, redis, logger: silent, workerId: 'monitoring-w1', observeBatch: (report) => serviceMetrics.recordWorkerBatch(report) })
    cleanups.push(async () => void (await runtime.stop()))
    const drained = await until(
      async () => (await app.inject('/api/v1/monitoring/audit-metrics')).json(),
      (body) => body.metrics.queue_length === 0 && body.metrics.inserts_last_minute === 50 && body.health.status === 'healthy',
      'the worker to drain the queue',
    )
    expect(drained.metrics).toMatchObject({ live_workers: 1, oldest_event_age_seconds: null })
    const history = await until(
      async () => (await app.inject('/api/v1/monitoring/history')).json(),
      (body) => body.samples.some((s: { store_rate_per_second: number }) => s.store_rate_per_second > 0) && body.samples.at(-1).status === 'healthy',
      'a sample with the store rate',
    )
    const statuses = history.samples.map((s: { status: string }) => s.status)
    expect(statuses).toContain('degraded')
    expect(Math.max(...history.samples.map((s: { queue_length: number }) => s.queue_length))).toBe(50)
    const metrics = await scrape(app)
    expect(metrics.get('auditq_events_enqueued_total')).toBe(50)
    expect(metrics.get('auditq_worker_events_stored_total')).toBe(50)
    expect(metrics.get('auditq_batch_size_events_sum{path="worker"}')).toBe(50)
    expect(metrics.get('auditq_live_workers')).toBe(1)
    expect(metrics.get('auditq_redis_up')).toBe(1)
    expect((await app.inject('/api/v1/monitoring/health')).statusCode).toBe(200)
  })
})
