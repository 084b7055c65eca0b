/**
 * The worker runtime's heartbeat: a stopped worker leaves the live workers at once, and a Redis
 * outage holds at most one beat in flight (the worker's client waits for Redis rather than fail
 * commands, so beats sent meanwhile would pile up and flush in a burst).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Command, Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../config.js'
import { connectRedis, QueueMonitor, queueKeys } from '../queue/redis-streams/index.js'
import { createLogger } from '../util/logger.js'
import { startWorkerRuntime } from './runtime.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { deleteKeys, redisAvailable, redisServerAvailable, startRedisServer, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { REDIS_URL } from '../../test/support/services.js'

const hasRedis = await redisAvailable()
const hasRedisServer = redisServerAvailable()
const silent = createLogger({ level: 'silent' })

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Counts the commands of one name the client sends (queued ones included), as they are issued. */
function countCommands(redis: Redis, name: string): () => number {
  let count = 0
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((command: Command, ...rest: unknown[]) => {
    if (command.name.toLowerCase() === name) count += 1
    return (send as (...args: unknown[]) => unknown)(command, ...rest)
  }) as typeof redis.sendCommand
  return () => count
}

describe.skipIf(!hasRedis)('worker heartbeat on stop', () => {
  it('a stopped worker is no longer among the live workers, without waiting for its heartbeat to expire', async () => {
    const prefix = uniqueRedisPrefix('beat-stop')
    const redis = connectRedis(REDIS_URL, { maxRetriesPerRequest: null })
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })
    // The default beat (2 s, so a 6 s TTL): left to expire, the worker would still show long after stop().
    const config = loadConfig({ logLevel: 'silent', redisUrl: REDIS_URL, queue: { prefix } })
    const monitor = new QueueMonitor(redis, queueKeys({ prefix }))
    const live = async () => (await monitor.liveWorkers()).map((w) => w.workerId)

    const kept = await startWorkerRuntime({ config, store: new MemoryStore(), redis, logger: silent, workerId: 'beat-kept' })
    cleanups.push(async () => void (await kept.stop(2_000)))
    const stopped = await startWorkerRuntime({ config, store: new MemoryStore(), redis, logger: silent, workerId: 'beat-stopped' })
    expect((await live()).sort()).toEqual(['beat-kept', 'beat-stopped'])

    await stopped.stop(2_000)
    // Gone from the index too, not only its figures; the other worker is untouched.
    expect(await live()).toEqual(['beat-kept'])
    expect(await redis.zscore(queueKeys({ prefix }).workers, 'beat-stopped')).toBeNull()
  })
})

describe.skipIf(!hasRedisServer)('worker heartbeat while Redis is down', () => {
  async function startOnPrivateRedis(workerId: string, args: string[] = []) {
    const server = await startRedisServer({ args })
    // As `auditq worker` connects (src/service/queue-setup.ts): commands wait for Redis instead of failing.
    const redis = connectRedis(server.url, { maxRetriesPerRequest: null })
    redis.on('error', () => undefined) // Connection refused while the server is down: expected here.
    cleanups.push(async () => {
      redis.disconnect()
      await server.destroy()
    })
    // Every beat asks Redis' clock (TIME) for the oldest event's age; nothing else in the worker does.
    const beatsSent = countCommands(redis, 'time')
    const prefix = uniqueRedisPrefix('beat-outage')
    const config = loadConfig({ logLevel: 'silent', redisUrl: server.url, queue: { prefix }, worker: { heartbeatEveryMs: 100 } })
    const runtime = await startWorkerRuntime({ config, store: new MemoryStore(), redis, logger: silent, workerId })
    const observer = server.client()
    cleanups.push(async () => void observer.disconnect())
    observer.on('error', () => undefined)
    const monitor = new QueueMonitor(observer, queueKeys({ prefix }))
    const live = async () => (await monitor.liveWorkers()).map((w) => w.workerId)
    return { server, redis, runtime, beatsSent, live, keys: queueKeys({ prefix }), observer }
  }

  it('holds at most one beat in flight during the outage, and beats again once Redis is back', async () => {
    const { server, runtime, beatsSent, live } = await startOnPrivateRedis('beat-outage-w1')
    cleanups.push(async () => void (await runtime.stop(1_000)))
    expect(await live()).toEqual(['beat-outage-w1'])

    await server.kill()
    const atKill = beatsSent()
    // Ten beat intervals with Redis gone: unguarded, each would queue another beat.
    await sleep(1_000)
    expect(beatsSent() - atKill).toBeLessThanOrEqual(1)
    expect(runtime.skippedBeats).toBeGreaterThanOrEqual(1)

    await server.restart()
    // The restarted server is empty (no persistence): a live entry again means a new beat landed.
    await vi.waitFor(async () => expect(await live()).toEqual(['beat-outage-w1']), { timeout: 10_000, interval: 50 })
  })

  it('stop() returns while Redis is down, and the held-up beat does not bring the worker back when Redis returns', async () => {
    // Persistent, so the heartbeat written before the crash is still there after the restart.
    const { server, runtime, beatsSent, live, keys, observer } = await startOnPrivateRedis('beat-outage-w2', ['--appendonly', 'yes', '--appendfsync', 'always'])
    expect(await live()).toEqual(['beat-outage-w2'])
    await server.kill()
    const atKill = beatsSent()
    // A beat is now queued in the client, waiting for Redis.
    await vi.waitFor(() => expect(beatsSent()).toBeGreaterThan(atKill), { timeout: 5_000, interval: 20 })

    // Bounded: it resolves although neither the beat nor the key's removal can reach Redis.
    await runtime.stop(300)

    await server.restart()
    // The queued removal lands once the worker's client reconnects (it was issued after the beat).
    await vi.waitFor(async () => expect(await observer.zscore(keys.workers, 'beat-outage-w2')).toBeNull(), { timeout: 10_000, interval: 50 })
    // The beat held up by the outage must not publish after that: give it every chance to.
    await sleep(500)
    expect(await live()).toEqual([])
  })
})
