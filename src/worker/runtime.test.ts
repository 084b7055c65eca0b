/**
 * The worker runtime's heartbeat figures during a store outage: failed attempts must show while the
 * store is still down, not only after the batch finally lands.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../config.js'
import { BatchMetrics, newRegistry } from '../observability/metrics.js'
import { connectRedis, QueueMonitor, queueKeys, readLosses, RedisStreamsProducer } from '../queue/redis-streams/index.js'
import { createLogger } from '../util/logger.js'
import type { BatchReport } from './queue-worker.js'
import { startWorkerRuntime } from './runtime.js'
import { storedEvent } from '../../test/support/events.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { deleteKeys, redisAvailable, redisServerAvailable, startRedisServer, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const silent = createLogger({ level: 'silent' })

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe.skipIf(!hasRedis)('worker runtime during a store outage', () => {
  it('failures_last_minute rises while the worker is still retrying, and is not counted again when the batch lands', async () => {
    const prefix = uniqueRedisPrefix('runtime')
    const redis = connectRedis(REDIS_URL)
    const keys = queueKeys({ prefix })
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })
    const config = loadConfig({
      logLevel: 'silent',
      redisUrl: REDIS_URL,
      queue: { prefix },
      worker: { heartbeatEveryMs: 100, flushIntervalMs: 20, retryAttempts: 3, retryInitialDelayMs: 30, retryMaxDelayMs: 60 },
    })
    // The store is the dependency: it refuses every insert with a transient error, as a database that is down does.
    const store = new MemoryStore()
    store.down = true
    await new RedisStreamsProducer({ redis, keys, capEvents: 1_000_000 }).enqueue(Array.from({ length: 20 }, () => storedEvent()))

    const reports: BatchReport[] = []
    let counted = 0
    // Wired as `auditq serve` and `auditq worker` wire it: the Prometheus counter counts each attempt once.
    const metrics = new BatchMetrics(newRegistry())
    const prometheusFailures = async () => (await metrics.batchFailures.get()).values.find((v) => v.labels.path === 'worker')?.value ?? 0
    const runtime = await startWorkerRuntime({
      config, store, redis, logger: silent, workerId: 'outage-w1',
      observeBatch: (report) => {
        reports.push(report)
        metrics.recordWorkerBatch(report)
      },
      observeFailedAttempt: () => {
        counted += 1
        metrics.recordWorkerFailedAttempt()
      },
    })
    let stopped = false
    cleanups.push(async () => void (stopped || (await runtime.stop(2_000))))
    const monitor = new QueueMonitor(redis, keys)
    const failuresInHeartbeat = async () => Number((await monitor.liveWorkers()).find((w) => w.workerId === 'outage-w1')?.figures.failures_last_minute ?? 0)

    await vi.waitFor(async () => expect(await failuresInHeartbeat()).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 50 })
    // Still down, still retrying: the batch has not ended, yet its failures already show.
    expect(reports).toHaveLength(0)
    expect(store.rows.size).toBe(0)
    expect(counted).toBeGreaterThanOrEqual(3)
    expect(await prometheusFailures()).toBe(counted)

    store.down = false
    await vi.waitFor(() => expect(store.rows.size).toBe(20), { timeout: 5_000, interval: 20 })
    await vi.waitFor(() => expect(reports.length).toBeGreaterThanOrEqual(1), { timeout: 5_000, interval: 20 })
    const failedAttempts = reports.reduce((sum, r) => sum + r.failedAttempts, 0)
    expect(failedAttempts).toBe(counted)
    expect(await prometheusFailures()).toBe(counted)
    // A heartbeat after the batch report carries each failed attempt once (doubled, it would never equal).
    await vi.waitFor(async () => expect(await failuresInHeartbeat()).toBe(counted), { timeout: 2_000, interval: 50 })
  })
})

describe.skipIf(!redisServerAvailable())('worker runtime when Redis restarts empty', () => {
  it('notices on its own, with what it held pending counted, and reports it once', async () => {
    const server = await startRedisServer()
    cleanups.push(() => server.destroy())
    // As `auditq worker` connects: commands wait for Redis rather than fail while it is down.
    const redis = connectRedis(server.url, { maxRetriesPerRequest: null })
    redis.on('error', () => undefined)
    cleanups.push(async () => redis.disconnect())
    const prefix = uniqueRedisPrefix('reset')
    const keys = queueKeys({ prefix })
    const config = loadConfig({ logLevel: 'silent', redisUrl: server.url, queue: { prefix }, worker: { heartbeatEveryMs: 100, flushIntervalMs: 20, retryInitialDelayMs: 50, retryMaxDelayMs: 100 } })
    // The store is down, so the worker holds the backlog pending: those entries are exposed too.
    const store = new MemoryStore()
    store.down = true
    await new RedisStreamsProducer({ redis, keys, capEvents: 1_000_000 }).enqueue(Array.from({ length: 40 }, () => storedEvent()))
    const resets: string[] = []
    const runtime = await startWorkerRuntime({ config, store, redis, logger: silent, workerId: 'reset-w1', observeRedisReset: (outcome) => resets.push(outcome) })
    cleanups.push(async () => void (await runtime.stop(1_000)))
    await vi.waitFor(async () => expect(Number((await redis.xpending(keys.events, keys.group))[0])).toBe(40), { timeout: 5_000, interval: 50 })
    await new Promise((resolve) => setTimeout(resolve, 300)) // a beat has looked at the backlog

    await server.kill()
    await server.restart()
    await vi.waitFor(() => expect(resets).toEqual(['data_lost']), { timeout: 10_000, interval: 50 })
    await vi.waitFor(async () => expect(await readLosses(redis, keys)).toMatchObject([{ cause: 'restarted-empty', eventsExposed: 40, detectedBy: 'reset-w1' }]), { timeout: 5_000, interval: 50 })
    // The worker goes on against the new, empty queue and does not report the same loss again.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(resets).toEqual(['data_lost'])
  })
})
