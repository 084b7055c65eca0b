/**
 * A queue split into three stream shards on one Redis: producers spread events over the shards,
 * one worker drains them all into the store exactly once, the status totals are the shards' sums,
 * the DLQ tools work across shards, and lowering the shard count strands nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type Config } from '../../src/config.js'
import { queueStatusReader } from '../../src/queue/queue-status.js'
import { acknowledgeShardLosses, connectRedis, configuredShards, readShardLosses, shardLayout, ShardedDeadLetters, ShardedProducer, ShardedResetWatch, type QueueShard } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createEmbeddedStore } from '../../src/store/embedded/embedded-store.js'
import type { Store } from '../../src/store/store.js'
import { createLogger } from '../../src/util/logger.js'
import { startWorkerRuntime } from '../../src/worker/runtime.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CLI, cliEnv } from '../support/cli.js'
import { storedEvent } from '../support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../support/redis-server.js'
import { REDIS_URL } from '../support/services.js'

const hasRedis = await redisAvailable()
const run = promisify(execFile)
const silent = createLogger({ level: 'silent' })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, refresh?: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await refresh?.(), !(await condition()))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

describe.skipIf(!hasRedis)('queue mode with stream shards on one Redis', () => {
  const redis = connectRedis(REDIS_URL)
  const prefixes: string[] = []
  let dir: string
  const cleanups: (() => Promise<unknown>)[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditq-shards-'))
  })
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    for (const prefix of prefixes) await deleteKeys(redis, prefix)
    redis.disconnect()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  async function setup(name: string, shards: number) {
    const prefix = uniqueRedisPrefix(`shards-${name}`)
    prefixes.push(prefix)
    const store = await createEmbeddedStore({ dataDir: join(dir, name) })
    await store.migrate()
    cleanups.push(() => store.close())
    const config = (count: number): Config =>
      loadConfig({ logLevel: 'silent', redisUrl: REDIS_URL, queue: { prefix, shards: count }, worker: { flushIntervalMs: 20, idleBlockMs: 100, claimEveryMs: 200, heartbeatEveryMs: 200 } })
    const startWorker = async (count: number, workerId: string) => {
      const runtime = await startWorkerRuntime({ config: config(count), store, redis, logger: silent, workerId })
      cleanups.push(() => runtime.stop(2_000))
      return runtime
    }
    return { prefix, store, config, startWorker, layout: shardLayout({ prefix, shards }) }
  }

  async function storedIds(store: Store, tenant: string): Promise<string[]> {
    const ids: string[] = []
    for await (const event of store.stream({ tenant_id: tenant })) ids.push(event.id)
    return ids
  }

  const lengths = (layout: readonly QueueShard[]) => Promise.all(layout.map((shard) => redis.xlen(shard.keys.events)))

  it('spreads events over three shards, stores each exactly once, and reports totals as the sums of the shards', async () => {
    const { prefix, store, config, startWorker, layout } = await setup('spread', 3)
    expect(layout.map((shard) => shard.keys.events)[0]).toBe(`${prefix}:{default}:events`)
    expect(new Set(layout.map((shard) => shard.slot)).size).toBe(3)
    const logger = await createAuditLogger({ store, redisUrl: REDIS_URL, dataDir: join(dir, 'spread'), queue: { prefix, shards: 3, redis } })
    cleanups.push(() => logger.close())
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => logger.log({ tenant_id: 'acme', action: 'spread', actor_id: `u${i}` })))

    // No worker yet: every shard holds a fair part, and the status adds them up.
    const perShard = await lengths(layout)
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(300)
    for (const length of perShard) expect(length).toBeGreaterThanOrEqual(50)
    const status = await queueStatusReader(redis, config(3))()
    expect(status.queueLength).toBe(300)
    expect(status.shards?.map((shard) => shard.length)).toEqual(perShard)
    expect(status.shards?.map((shard) => shard.shard)).toEqual(layout.map((shard) => shard.tag))

    await startWorker(3, 'spread-w1')
    await until(async () => (await storedIds(store, 'acme')).length >= 300, 'every event stored')
    await sleep(300)
    const stored = await storedIds(store, 'acme')
    expect(stored).toHaveLength(300)
    expect(new Set(stored)).toEqual(new Set(ids))
    await until(async () => (await lengths(layout)).every((length) => length === 0), 'every shard drained')
    const after = await queueStatusReader(redis, config(3))()
    expect(after).toMatchObject({ queueLength: 0, deadLetters: 0 })
    expect(after.shards?.every((shard) => shard.pending === 0 && shard.current)).toBe(true)
    expect(after.liveWorkers.map((worker) => worker.workerId)).toEqual(['spread-w1'])
  }, 50_000)

  it('dead-letters per shard; the DLQ tools list every shard (paging without repeats), replay each into its own shard, and purge', async () => {
    const { prefix, store, config, startWorker, layout } = await setup('dlq', 3)
    // One poison event per shard (round robin, one call each), among good ones.
    const producer = new ShardedProducer({ redis, shards: layout })
    // Numbered, so the worker records each in the completeness accounting before dead-lettering it.
    const poison = Array.from({ length: 3 }, (_, i) => storedEvent({ tenant_id: 'acme', action: `poison.${i}`, category: 'bogus' as never, producer_id: 'shard-app', producer_seq: i + 1 }))
    const good = poison.map(() => storedEvent({ tenant_id: 'acme' }))
    for (const [i, event] of poison.entries()) await producer.enqueue([event, good[i]!])
    const worker = await startWorker(3, 'dlq-w1')
    const dlq = new ShardedDeadLetters(redis, layout)
    let stored = new Set<string>()
    await until(async () => (await dlq.size()) === 3, 'three dead letters')
    await until(async () => good.every((event) => stored.has(event.id)), 'the good events stored', 20_000, async () => (stored = new Set(await storedIds(store, 'acme'))))
    expect((await queueStatusReader(redis, config(3))()).shards?.map((shard) => shard.deadLetters)).toEqual([1, 1, 1])
    expect((await queueStatusReader(redis, config(3))()).counters?.dead_lettered).toBe(3)
    const accounted = await store.completeness!.accountingRecords({ producer_id: 'shard-app' })
    const numbers = accounted.flatMap((record) => (record.kind === 'dead_lettered' ? record.ranges.flatMap((range) => Array.from({ length: range.to - range.from + 1 }, (_, i) => range.from + i)) : []))
    expect(new Set(numbers)).toEqual(new Set([1, 2, 3]))

    const seen: string[] = []
    let after: string | undefined
    do {
      const page = await dlq.list({ limit: 1, ...(after ? { after } : {}) })
      seen.push(...page.deadLetters.map((letter) => letter.id))
      after = page.next
    } while (after !== undefined)
    expect(new Set(seen).size).toBe(3)
    const letters = await Promise.all(seen.map((id) => dlq.get(id)))
    expect(letters.map((letter) => letter?.shard).sort()).toEqual(layout.map((shard) => shard.tag).sort())
    expect(letters.map((letter) => letter?.event?.action).sort()).toEqual(['poison.0', 'poison.1', 'poison.2'])
    // Ids of shards other than the home one carry their shard.
    for (const letter of letters) expect(letter!.id.endsWith(`@${letter!.shard}`)).toBe(letter!.shard !== layout[0]!.tag)

    // The CLI sees the same: `dlq list` over every shard, `queue shards` per shard and in total.
    const env = cliEnv({ AUDITQ_REDIS_URL: REDIS_URL, AUDITQ_QUEUE_PREFIX: prefix, AUDITQ_QUEUE_SHARDS: '3' })
    const cli = async (...args: string[]) => JSON.parse((await run(process.execPath, [CLI, ...args], { env })).stdout) as Record<string, unknown>
    const listed = (await cli('dlq', 'list', '--format', 'json')) as { total: number; deadLetters: { id: string; shard: string }[]; shards: { shard: string; size: number }[] }
    expect(listed.total).toBe(3)
    expect(listed.deadLetters.map((letter) => letter.id).sort()).toEqual([...seen].sort())
    expect(listed.shards).toEqual(layout.map((shard) => ({ shard: shard.tag, size: 1 })))
    const shardsOut = (await cli('queue', 'shards', '--format', 'json')) as { shards: { shard: string; deadLetters: number }[]; total: { deadLetters: number } }
    expect(shardsOut.shards.map((shard) => [shard.shard, shard.deadLetters])).toEqual(layout.map((shard) => [shard.tag, 1]))
    expect(shardsOut.total.deadLetters).toBe(3)

    // Replayed with no worker running, each dead letter is back in its own shard's stream.
    await worker.stop(2_000)
    const replayed = await dlq.replay(seen)
    expect(replayed.size).toBe(3)
    expect(await lengths(layout)).toEqual([1, 1, 1])
    expect(await dlq.size()).toBe(0)
    // Refused again once a worker runs: purge clears every shard's DLQ.
    await startWorker(3, 'dlq-w2')
    await until(async () => (await dlq.size()) === 3, 'refused again')
    expect(await dlq.purgeAll()).toBe(3)
    expect(await dlq.size()).toBe(0)
  }, 50_000)

  it('refuses a shard count outside 1–64 before opening anything, naming the setting', async () => {
    const store = await createEmbeddedStore({ dataDir: join(dir, 'bad-count') })
    cleanups.push(() => store.close())
    await expect(createAuditLogger({ store, redisUrl: REDIS_URL, dataDir: join(dir, 'bad-count'), queue: { shards: 0 } })).rejects.toMatchObject({
      code: 'AUDITQ_CONFIG',
      message: expect.stringContaining('queue shards must be an integer from 1 to 64, got 0'),
    })
    expect(() => loadConfig({ queue: { shards: 65 } })).toThrow(/shards/)
  })

  it('caps each shard: a batch a full shard refuses goes to the others, and only what no shard takes overflows, counted once', async () => {
    const { config, layout } = await setup('cap', 3)
    const producer = new ShardedProducer({ redis, shards: layout, capEvents: 10 })
    const first = await producer.enqueue(Array.from({ length: 25 }, () => storedEvent()))
    expect(first).toMatchObject({ enqueued: expect.any(Array), overCap: [] })
    expect(first.enqueued).toHaveLength(25)
    const second = await producer.enqueue(Array.from({ length: 10 }, () => storedEvent()))
    expect(second.enqueued).toHaveLength(5)
    expect(second.overCap).toHaveLength(5)
    expect(await lengths(layout)).toEqual([10, 10, 10])
    const status = await queueStatusReader(redis, config(3))()
    expect(status.queueLength).toBe(30)
    expect(status.counters?.overflow).toBe(5)
    await producer.close()
  })

  it('notices a shard whose keys vanished, names the shard in the loss, and acknowledges it there', async () => {
    const { config, layout } = await setup('loss', 3)
    const watch = new ShardedResetWatch({ redis, shards: layout, logger: silent, source: 'loss-test' })
    const producer = new ShardedProducer({ redis, shards: layout })
    for (let i = 0; i < 6; i++) await producer.enqueue([storedEvent()])
    await watch.check()
    const victim = layout[2]!
    await redis.del(victim.keys.events, victim.keys.identity)
    await watch.check()
    const losses = await watch.losses()
    expect(losses).toEqual([expect.objectContaining({ shard: victim.tag, cause: 'keys-vanished', eventsExposed: 2 })])
    // Recorded in the shard's own keys: a status reading without a watch finds it too.
    expect((await queueStatusReader(redis, config(3))()).losses).toEqual([expect.objectContaining({ shard: victim.tag })])
    expect(await acknowledgeShardLosses(redis, layout, 'all')).toHaveLength(1)
    expect(await readShardLosses(redis, layout)).toEqual([])
    await producer.close()
  })

  it('a producer passes the events a failing shard did not confirm to the next shard; only when every shard fails does the call fail', async () => {
    const { layout } = await setup('route', 3)
    const broken = layout[1]!
    await redis.set(broken.keys.events, 'not a stream')
    const producer = new ShardedProducer({ redis, shards: layout })
    const events = Array.from({ length: 6 }, () => storedEvent())
    for (const event of events) expect((await producer.enqueue([event])).enqueued).toEqual([event.id])
    // Round robin 0, 1, 2, 0, 1, 2: the two calls meant for the broken shard 1 went on to shard 2.
    expect(await redis.xlen(layout[0]!.keys.events)).toBe(2)
    expect(await redis.xlen(layout[2]!.keys.events)).toBe(4)
    for (const shard of [layout[0]!, layout[2]!]) {
      await redis.del(shard.keys.events)
      await redis.set(shard.keys.events, 'not a stream')
    }
    await expect(producer.enqueue([storedEvent()])).rejects.toMatchObject({ code: 'AUDITQ_QUEUE_UNAVAILABLE', enqueued: [] })
    await producer.close()
  })

  it('a shard that cannot be read does not stall the others: the worker goes on storing theirs and never backs off', async () => {
    const { prefix, store, config, layout } = await setup('broken', 3)
    const lines: string[] = []
    const logger = createLogger({ level: 'info', format: 'json', destination: { write: (line: string) => void lines.push(line) } })
    const runtime = await startWorkerRuntime({ config: config(3), store, redis, logger, workerId: 'broken-w1' })
    cleanups.push(() => runtime.stop(2_000))
    // Shard 2's stream becomes something no stream command accepts: every read, claim and length of it fails.
    const broken = layout[2]!
    await redis.del(broken.keys.events)
    await redis.set(broken.keys.events, 'not a stream')
    const healthy = shardLayout({ prefix, shards: 3 }).slice(0, 2)
    const producer = new ShardedProducer({ redis, shards: healthy })
    const events = Array.from({ length: 200 }, () => storedEvent({ tenant_id: 'acme' }))
    for (let i = 0; i < events.length; i += 20) {
      await producer.enqueue(events.slice(i, i + 20))
      await sleep(50)
    }
    await until(async () => (await storedIds(store, 'acme')).length >= 200, 'the healthy shards stored', 10_000)
    expect(lines.filter((line) => line.includes('cannot reach the queue'))).toEqual([])
    await producer.close()
  })

  it('lowering the count from 3 to 2 strands nothing: workers drain the shard beyond it, status names it as draining', async () => {
    const { store, config, startWorker, layout } = await setup('shrink', 3)
    const producer = new ShardedProducer({ redis, shards: layout })
    const events = Array.from({ length: 300 }, () => storedEvent({ tenant_id: 'acme' }))
    for (let i = 0; i < events.length; i += 10) await producer.enqueue(events.slice(i, i + 10))
    await producer.close()
    const third = layout[2]!
    expect(await redis.xlen(third.keys.events)).toBeGreaterThan(50)

    // The count is lowered: the new layout lacks the third shard, yet the registry names it.
    const two = configuredShards(config(2).queue)
    expect(two.map((shard) => shard.tag)).not.toContain(third.tag)
    await startWorker(2, 'shrink-w1')
    await until(async () => (await storedIds(store, 'acme')).length >= 300, 'every event stored')
    const stored = await storedIds(store, 'acme')
    expect(new Set(stored)).toEqual(new Set(events.map((event) => event.id)))
    expect(stored).toHaveLength(300)
    await until(async () => (await redis.xlen(third.keys.events)) === 0, 'the third shard drained')
    const status = await queueStatusReader(redis, config(2))()
    // The configured two first; then the old layout's shards the new one lacks (the third at least), draining.
    const beyond = layout.filter((shard) => !two.some((current) => current.tag === shard.tag))
    expect(beyond.map((shard) => shard.tag)).toContain(third.tag)
    expect(status.shards?.map((shard) => [shard.shard, shard.current])).toEqual([
      ...two.map((shard) => [shard.tag, true]),
      ...beyond.map((shard) => [shard.tag, false]).sort(),
    ])
    expect(status.queueLength).toBe(0)
  }, 50_000)
})
