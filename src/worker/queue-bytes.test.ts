/**
 * The worker moves bytes: what the producer enqueued (canonical form, digest, search document) is
 * what the PostgreSQL insert consumes. Against a real Redis stream and a real PostgreSQL store:
 * entries an older producer wrote (the event's JSON) are stored beside new ones and the chain
 * verifies; an entry edited by hand in Redis is refused and dead-lettered with a named reason.
 */
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { verifyChains } from '../integrity/verify.js'
import { parseSearch } from '../query/search/syntax.js'
import { encodeEvent } from '../queue/redis-streams/codec.js'
import { connectRedis, queueKeys, RedisStreamsConsumer, RedisStreamsProducer, type QueueKeys } from '../queue/redis-streams/index.js'
import type { Store } from '../store/store.js'
import { createLogger } from '../util/logger.js'
import { QueueWorker } from './queue-worker.js'
import { freshStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { postgresAvailable, REDIS_URL } from '../../test/support/services.js'

const ready = (await redisAvailable()) && (await postgresAvailable())
const silent = createLogger({ level: 'silent' })

describe.skipIf(!ready)('queue worker moving bytes into PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function setup() {
    const prefix = uniqueRedisPrefix('bytes')
    const redis: Redis = connectRedis(REDIS_URL)
    const keys: QueueKeys = queueKeys({ prefix })
    cleanups.push(async () => {
      await deleteKeys(redis, prefix)
      redis.disconnect()
    })
    const t = await freshStore('postgres')
    cleanups.push(() => t.dispose())
    const producer = new RedisStreamsProducer({ redis, keys, capEvents: 1_000_000 })
    const run = async () => {
      const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'w1' })
      const worker = new QueueWorker({ consumer, store: t.store, logger: silent, flushIntervalMs: 50, idleBlockMs: 50 })
      cleanups.push(async () => {
        await worker.stop(5_000)
        await consumer.close()
      })
      worker.start()
      await vi.waitFor(async () => expect(await redis.xlen(keys.events)).toBe(0), { timeout: 15_000, interval: 50 })
    }
    return { redis, keys, store: t.store, producer, run }
  }

  async function stored(store: Store): Promise<Map<string, AuditEvent>> {
    const events = new Map<string, AuditEvent>()
    for await (const event of store.stream({})) events.set(event.id, event)
    return events
  }

  it('stores prepared entries and entries an older producer wrote alike, and the chain verifies', async () => {
    const s = await setup()
    const numbered = (seq: number, tenant: string) =>
      storedEvent({
        tenant_id: tenant,
        producer_id: 'app-1',
        producer_seq: seq,
        actor_name: seq % 2 ? 'Ada' : null,
        targets: seq % 3 ? [{ id: `t${seq}`, type: 'doc' }] : null,
        changes: seq % 4 ? null : { title: { after: 'b', before: 'a' } },
        ip_address: seq % 2 ? '203.0.113.7' : null,
        description: `it's "quoted" \\ and, {braced} NULL café ☕ ${seq}`,
        metadata: { n: seq, nested: { z: [1, 'two', null], a: true } },
      })
    const events = Array.from({ length: 60 }, (_, i) => numbered(i + 1, i % 3 === 0 ? 'acme' : 'globex-東京'))
    // Interleaved: an older producer's entries (the event's JSON) and this one's.
    for (let i = 0; i < events.length; i += 10) {
      for (const event of events.slice(i, i + 5)) await s.redis.xadd(s.keys.events, '*', 'event', JSON.stringify(event))
      await s.producer.enqueue(events.slice(i + 5, i + 10))
    }
    await s.run()
    const rows = await stored(s.store)
    expect(rows.size).toBe(60)
    for (const event of events) expect(rows.get(event.id)).toEqual(event)
    // Word search reads the search document the producer computed.
    const page = await s.store.query({ search: parseSearch('braced') }, { limit: 100 })
    expect(page.events).toHaveLength(60)
    const verdict = await verifyChains(s.store.kind, s.store.integrity!)
    expect(verdict.intact).toBe(true)
    expect(verdict.events).toBe(60)
    expect(await s.redis.xlen(s.keys.deadLetters)).toBe(0)
  })

  it('refuses an entry whose bytes were edited in Redis by hand: dead-lettered with the reason, its batch-mates stored', async () => {
    const s = await setup()
    const events = [storedEvent(), storedEvent({ action: 'user.login' }), storedEvent()]
    await s.producer.enqueue(events)
    // Edit the second entry's canonical bytes (action) and put it back, digest unchanged.
    const entries = await s.redis.xrange(s.keys.events, '-', '+')
    const [entryId, fields] = entries[1]!
    const payload = fields[1]!
    expect(payload).toContain('"user.login"')
    await s.redis.xdel(s.keys.events, entryId)
    await s.redis.xadd(s.keys.events, '*', 'event', payload.replace('"user.login"', '"user.logout"'))
    // And one whose digest was garbled (a corrupted write), content intact.
    const fourth = storedEvent()
    const good = encodeEvent(fourth)
    await s.redis.xadd(s.keys.events, '*', 'event', `${good[0] === 'a' ? 'b' : 'a'}${good.slice(1)}`)
    await s.run()
    const rows = await stored(s.store)
    expect([...rows.keys()].sort()).toEqual([events[0]!.id, events[2]!.id].sort())
    const deadLetters = await s.redis.xrange(s.keys.deadLetters, '-', '+')
    expect(deadLetters).toHaveLength(2)
    for (const [, dead] of deadLetters) {
      const error = dead[dead.indexOf('error') + 1]
      expect(error).toBe('refused queue entry: digest: does not match the SHA-256 of the canonical bytes (corrupted or edited entry)')
    }
    expect((await verifyChains(s.store.kind, s.store.integrity!)).intact).toBe(true)
  })
  it("refuses an older producer's entry whose canonical form cannot be computed, by itself: its batch-mates are stored", async () => {
    const s = await setup()
    const before = storedEvent()
    const after = storedEvent()
    // An entry in the older format passes its shape check on delivery (every required field a
    // string) but holds a timestamp no date parses, so the worker cannot compute its canonical form.
    const broken = { ...storedEvent(), occurred_at: 'yesterday-ish' }
    await s.producer.enqueue([before])
    await s.redis.xadd(s.keys.events, '*', 'event', JSON.stringify(broken))
    await s.producer.enqueue([after])
    await s.run()
    const rows = await stored(s.store)
    expect([...rows.keys()].sort()).toEqual([before.id, after.id].sort())
    const deadLetters = await s.redis.xrange(s.keys.deadLetters, '-', '+')
    expect(deadLetters).toHaveLength(1)
    const [, dead] = deadLetters[0]!
    expect(dead[dead.indexOf('error') + 1]).toMatch(/refused queue entry: event: Invalid time value/)
    expect((await verifyChains(s.store.kind, s.store.integrity!)).intact).toBe(true)
  })
})
