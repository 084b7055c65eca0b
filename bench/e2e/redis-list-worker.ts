/**
 * Baseline (b), worker side: a Redis-list worker (BRPOP, adaptive multi-row INSERT), as such designs are commonly written.
 * Every loop: LLEN to pick the batch size (100 / 300 / 1,000 by queue length), BRPOP one item with
 * a 1 s timeout, and flush the buffer with one multi-row INSERT when it is full or 5 s have passed
 * since the last flush. A failed batch is pushed to a `failed` list, as such designs do.
 *
 *   node redis-list-worker.js <redisUrl> <listKey> <databaseUrl> <schema>
 * Prints `ready` once connected; SIGTERM flushes what it holds and exits.
 */
import pg from 'pg'
import { Redis } from 'ioredis'
import type { AuditEvent } from '../../src/event/types.js'
import { insertValuesSql, rowValues } from './rows.js'

const [redisUrl, key, databaseUrl, schema] = process.argv.slice(2)
if (!redisUrl || !key || !databaseUrl || !schema) throw new Error('usage: redis-list-worker <redisUrl> <listKey> <databaseUrl> <schema>')

const BATCH_CONFIG = {
  small: { size: 100, threshold: 1000 },
  medium: { size: 300, threshold: 5000 },
  large: { size: 1000, threshold: 10000 },
}
const BATCH_INTERVAL_MS = 5000

function adaptiveBatchSize(queueLength: number): number {
  if (queueLength > BATCH_CONFIG.large.threshold) return BATCH_CONFIG.large.size
  if (queueLength > BATCH_CONFIG.medium.threshold) return BATCH_CONFIG.medium.size
  return BATCH_CONFIG.small.size
}

const redis = new Redis(redisUrl)
const db = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` })
await db.connect()
await redis.ping()
let running = true
process.once('SIGTERM', () => (running = false))
process.stdout.write('ready\n')

async function flushBatch(logs: AuditEvent[]): Promise<void> {
  try {
    await db.query(insertValuesSql(logs.length), logs.flatMap(rowValues))
  } catch (error) {
    process.stderr.write(`batch insert failed: ${(error as Error).message}\n`)
    for (const log of logs) await redis.lpush(`${key}:failed`, JSON.stringify(log))
  }
}

const buffer: AuditEvent[] = []
let lastFlush = Date.now()
while (running) {
  try {
    const queueLength = await redis.llen(key)
    const batchSize = adaptiveBatchSize(queueLength)
    const result = await redis.brpop(key, 1)
    if (result) buffer.push(JSON.parse(result[1]) as AuditEvent)
    const timeToFlush = Date.now() - lastFlush >= BATCH_INTERVAL_MS
    const bufferFull = buffer.length >= batchSize
    if ((timeToFlush || bufferFull) && buffer.length > 0) {
      await flushBatch(buffer)
      buffer.length = 0
      lastFlush = Date.now()
    }
  } catch (error) {
    process.stderr.write(`worker error: ${(error as Error).message}\n`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}
if (buffer.length > 0) await flushBatch(buffer)
await db.end()
redis.disconnect()
