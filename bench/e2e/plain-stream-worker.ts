/**
 * Baseline (e), worker side: a plain, well-built Redis Streams design with none of auditq's
 * guarantees. XREADGROUP up to 1,000 entries (blocking 100 ms), JSON.parse each, one
 * `INSERT … SELECT FROM unnest(…)` of the whole batch (no chain, no search document, no ON
 * CONFLICT: a redelivered entry would fail its batch), then XACK. No claiming of a dead
 * consumer's entries, no dead letters, no backpressure: what a competent first version looks like,
 * and the bar auditq's queue mode has to clear while doing more per event.
 *
 *   node plain-stream-worker.js <redisUrl> <streamKey> <databaseUrl> <schema> <consumer>
 * Prints `ready` once connected; SIGTERM finishes the batch in hand and exits.
 */
import pg from 'pg'
import { Redis } from 'ioredis'
import { EVENT_FIELDS, type AuditEvent } from '../../src/event/types.js'
import { COLUMNS, COLUMN_TYPES } from '../../src/store/postgres/sql.js'

const [redisUrl, key, databaseUrl, schema, consumer] = process.argv.slice(2)
if (!redisUrl || !key || !databaseUrl || !schema || !consumer) throw new Error('usage: plain-stream-worker <redisUrl> <streamKey> <databaseUrl> <schema> <consumer>')

const GROUP = 'writers'
const INSERT = {
  name: 'plain_stream_insert',
  text: `INSERT INTO audit_logs (${COLUMNS}) SELECT * FROM unnest(${EVENT_FIELDS.map((field, i) => `$${i + 1}::${COLUMN_TYPES[field]}[]`).join(', ')})`,
}
const JSON_COLUMNS = new Set(EVENT_FIELDS.filter((field) => COLUMN_TYPES[field] === 'jsonb'))

const redis = new Redis(redisUrl)
const db = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` })
await db.connect()
await redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM').catch((error: Error) => {
  if (!error.message.includes('BUSYGROUP')) throw error
})
let running = true
process.once('SIGTERM', () => (running = false))
process.stdout.write('ready\n')

while (running) {
  const reply = (await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', 1000, 'BLOCK', 100, 'STREAMS', key, '>')) as
    | [string, [string, string[]][]][]
    | null
  const entries = reply?.[0]?.[1] ?? []
  if (entries.length === 0) continue
  const events = entries.map(([, fields]) => JSON.parse(fields[1]!) as AuditEvent)
  const columns = EVENT_FIELDS.map((field) =>
    events.map((event) => {
      const value = event[field] ?? null
      return JSON_COLUMNS.has(field) && value !== null ? JSON.stringify(value) : value
    }),
  )
  await db.query({ ...INSERT, values: columns })
  await redis.xack(key, GROUP, ...entries.map(([id]) => id))
}
await db.end()
redis.disconnect()
