/**
 * The measurements quoted in `src/queue/redis-streams/codec.ts` and `producer.ts`, against a real
 * Redis (AUDITQ_TEST_REDIS_URL, default redis://127.0.0.1:6379; keys under a fresh prefix, deleted
 * at the end):
 *   - stream layout: the event's JSON in one field vs one field per column;
 *   - enqueue from 128 concurrent single-event callers: the producer's coalescing vs one script
 *     call per event vs the legacy LLEN + LPUSH, each with and without ioredis auto-pipelining.
 *
 *   npm run bench:queue-producer
 */
import { deepStrictEqual } from 'node:assert'
import type { Redis } from 'ioredis'
import { EVENT_FIELDS, type AuditEvent } from '../src/event/types.js'
import { decodeEvent, encodeEvent } from '../src/queue/redis-streams/codec.js'
import { connectRedis } from '../src/queue/redis-streams/connection.js'
import { queueKeys, type QueueKeys } from '../src/queue/redis-streams/keys.js'
import { RedisStreamsProducer } from '../src/queue/redis-streams/producer.js'
import { QueueScripts } from '../src/queue/redis-streams/scripts.js'
import { storedEvent } from '../test/support/events.js'
import { deleteKeys, uniqueRedisPrefix } from '../test/support/redis-server.js'
import { REDIS_URL } from '../test/support/services.js'
import { formatRate } from './harness.js'
import { median, printTable } from './stats.js'

const RUNS = 5
const CALLERS = 128
const EVENTS = 20_000

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

const prefix = uniqueRedisPrefix('bench-queue')
const clients: Redis[] = []
let queues = 0
const freshKeys = () => queueKeys({ prefix, queue: `m${++queues}` })
const client = (autoPipelining: boolean) => {
  const redis = connectRedis(REDIS_URL, { enableAutoPipelining: autoPipelining })
  clients.push(redis)
  return redis
}

async function streamLayouts(): Promise<void> {
  const redis = client(true)
  const events = Array.from({ length: EVENTS }, (_, index) => typicalEvent(index))
  const rows: string[][] = []
  for (const layout of ['json', 'columns'] as const) {
    const codec: number[] = []
    const roundTrip: number[] = []
    let bytes = 0
    for (let run = 0; run < RUNS; run++) {
      const keys = freshKeys()
      let started = performance.now()
      const encoded = events.map((event) => (layout === 'json' ? ['event', encodeEvent(event)] : toColumns(event)))
      const decoded = encoded.map((fields) => (layout === 'json' ? decodeEvent(fields[1]!) : fromColumns(fields)))
      codec.push(performance.now() - started)
      // A layout that does not round-trip the event has no speed worth quoting.
      deepStrictEqual(decoded[7], events[7])

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
    rows.push([layout, median(codec).toFixed(0), median(roundTrip).toFixed(0), (bytes / 1e6).toFixed(1)])
  }
  process.stdout.write(`\nStream layout, ${EVENTS} events, median of ${RUNS} runs\n\n`)
  printTable(['layout', 'encode+decode ms', 'XADD+XRANGE+decode ms', 'stream MB'], rows)
}

/** CALLERS callers, each enqueuing one event at a time, waiting for each: events/s, median of runs. */
async function concurrentCallers(enqueueOne: (event: AuditEvent, keys: QueueKeys) => Promise<unknown>): Promise<number> {
  const rates: number[] = []
  for (let run = 0; run < RUNS; run++) {
    const keys = freshKeys()
    const events = Array.from({ length: EVENTS }, (_, index) => typicalEvent(index))
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (next < events.length) await enqueueOne(events[next++]!, keys)
      }),
    )
    rates.push(EVENTS / ((performance.now() - started) / 1000))
  }
  return median(rates)
}

async function enqueueDesigns(): Promise<void> {
  const cap = 1_000_000
  const rows: string[][] = []
  for (const autoPipelining of [true, false]) {
    const redis = client(autoPipelining)
    const producers = new Map<string, RedisStreamsProducer>()
    const coalescing = await concurrentCallers((event, keys) => {
      if (!producers.has(keys.events)) producers.set(keys.events, new RedisStreamsProducer({ redis, keys, capEvents: cap }))
      return producers.get(keys.events)!.enqueue([event])
    })
    const perEvent = await concurrentCallers((event, keys) => new QueueScripts(redis, keys).enqueueWithCap([encodeEvent(event)], { capEvents: cap }))
    // The legacy design: read the length, then push — two round trips and a race per event.
    const legacy = await concurrentCallers(async (event, keys) => {
      if ((await redis.llen(keys.events)) < cap) await redis.lpush(keys.events, encodeEvent(event))
    })
    for (const [design, rate] of [['coalescing', coalescing], ['one script call per event', perEvent], ['Redis-list LLEN + LPUSH', legacy]] as const) {
      if (!(rate > 0)) throw new Error(`${design}: no events enqueued`)
      rows.push([design, String(autoPipelining), formatRate(rate)])
    }
  }
  process.stdout.write(`\nEnqueue, ${CALLERS} concurrent single-event callers, ${EVENTS} events, median of ${RUNS} runs\n\n`)
  printTable(['design', 'auto-pipelining', 'events/s'], rows)
}

try {
  await streamLayouts()
  await enqueueDesigns()
} finally {
  await deleteKeys(client(false), prefix)
  for (const redis of clients) redis.disconnect()
}
