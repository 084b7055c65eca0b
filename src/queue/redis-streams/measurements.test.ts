import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../../test/support/redis-server.js'
import { REDIS_URL } from '../../../test/support/services.js'
import { EVENT_FIELDS, type AuditEvent } from '../../event/types.js'
import { decodeEvent, encodeEvent } from './codec.js'
import { connectRedis } from './connection.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { RedisStreamsProducer } from './producer.js'
import { QueueScripts } from './scripts.js'

/**
 * The measurements quoted in `codec.ts` and `producer.ts`. Not a check (timings depend on the
 * machine), so they run only on request: `AUDITQ_MEASURE=1 npx vitest run measurements`.
 */
const measure = process.env.AUDITQ_MEASURE === '1' && (await redisAvailable())
const RUNS = 5
const CALLERS = 128

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

function typicalEvent(index: number): AuditEvent {
  return storedEvent({
    actor_id: `user-${index % 500}`,
    ip_address: '203.0.113.7',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    request_id: `req-${index}`,
    session_id: `sess-${index % 2000}`,
    metadata: { plan: 'pro', changed: ['email', 'name'], previous: { email: `old-${index}@example.com` } },
  })
}

/** The alternative layout: one stream field per column, metadata as JSON. */
function toColumns(event: AuditEvent): string[] {
  return EVENT_FIELDS.flatMap((field) => {
    const value = event[field]
    return [field, field === 'metadata' ? JSON.stringify(value) : value === null ? '' : String(value)]
  })
}

function fromColumns(fields: string[]): AuditEvent {
  const record: Record<string, unknown> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]
  record.metadata = JSON.parse(record.metadata as string)
  record.success = record.success === 'true'
  for (const field of EVENT_FIELDS) if (record[field] === '') record[field] = null
  return record as unknown as AuditEvent
}

describe.runIf(measure)('queue measurements', () => {
  const prefix = uniqueRedisPrefix('measure')
  const clients: Redis[] = []
  let queues = 0
  const freshKeys = () => queueKeys({ prefix, queue: `m${++queues}` })
  const client = (autoPipelining: boolean) => {
    const redis = connectRedis(REDIS_URL, { enableAutoPipelining: autoPipelining })
    clients.push(redis)
    return redis
  }

  afterAll(async () => {
    await deleteKeys(client(false), prefix)
    for (const redis of clients) redis.disconnect()
  })

  it('JSON in one field vs one field per column', async () => {
    const redis = client(true)
    const events = Array.from({ length: 20_000 }, (_, index) => typicalEvent(index))
    for (const layout of ['json', 'columns'] as const) {
      const codec = [] as number[]
      const roundTrip = [] as number[]
      let bytes = 0
      for (let run = 0; run < RUNS; run++) {
        const keys = freshKeys()
        let started = performance.now()
        const encoded = events.map((event) => (layout === 'json' ? ['event', encodeEvent(event)] : toColumns(event)))
        const decoded = encoded.map((fields) => (layout === 'json' ? decodeEvent(fields[1]!) : fromColumns(fields)))
        codec.push(performance.now() - started)
        expect(decoded[7]).toEqual(events[7])

        started = performance.now()
        for (let i = 0; i < encoded.length; i += 1_000) {
          const pipeline = redis.pipeline()
          for (const fields of encoded.slice(i, i + 1_000)) pipeline.xadd(keys.events, '*', ...fields)
          await pipeline.exec()
        }
        const read = await redis.xrange(keys.events, '-', '+')
        read.map(([, fields]) => (layout === 'json' ? decodeEvent(fields[1]!) : fromColumns(fields)))
        roundTrip.push(performance.now() - started)
        bytes = Number(await redis.call('MEMORY', 'USAGE', keys.events, 'SAMPLES', '0'))
      }
      console.log(
        `${layout}: encode+decode ${median(codec).toFixed(0)} ms, XADD+XRANGE+decode ${median(roundTrip).toFixed(0)} ms, ` +
          `stream ${(bytes / 1e6).toFixed(1)} MB for ${events.length} events`,
      )
    }
  })

  /** 128 callers, each enqueuing one event at a time, waiting for each: events/s, median of runs. */
  async function concurrentCallers(total: number, enqueueOne: (event: AuditEvent, keys: QueueKeys) => Promise<unknown>) {
    const rates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const keys = freshKeys()
      const events = Array.from({ length: total }, (_, index) => typicalEvent(index))
      let next = 0
      const started = performance.now()
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (next < events.length) await enqueueOne(events[next++]!, keys)
        }),
      )
      rates.push(total / ((performance.now() - started) / 1000))
    }
    return median(rates)
  }

  it('coalescing vs auto-pipelining vs neither, 128 concurrent single-event callers', async () => {
    const total = 20_000
    const cap = 1_000_000
    const results: Record<string, number> = {}
    for (const autoPipelining of [true, false]) {
      const redis = client(autoPipelining)
      const producers = new Map<string, RedisStreamsProducer>()
      results[`coalescing, auto-pipelining ${autoPipelining}`] = await concurrentCallers(total, (event, keys) => {
        if (!producers.has(keys.events)) producers.set(keys.events, new RedisStreamsProducer({ redis, keys, capEvents: cap }))
        return producers.get(keys.events)!.enqueue([event])
      })
      results[`one script call per event, auto-pipelining ${autoPipelining}`] = await concurrentCallers(total, (event, keys) =>
        new QueueScripts(redis, keys).enqueueWithCap([encodeEvent(event)], { capEvents: cap }),
      )
      // The legacy design: read the length, then push — two round trips and a race per event.
      results[`seed LLEN + LPUSH, auto-pipelining ${autoPipelining}`] = await concurrentCallers(total, async (event, keys) => {
        if ((await redis.llen(keys.events)) < cap) await redis.lpush(keys.events, encodeEvent(event))
      })
    }
    for (const [name, rate] of Object.entries(results)) console.log(`${name}: ${Math.round(rate).toLocaleString('en')} events/s`)
    expect(Object.values(results).every((rate) => rate > 0)).toBe(true)
  })
})
