/**
 * Baseline (c), worker side: a BullMQ audit processor as commonly written: one job per
 * event, the processor checks the required fields and writes the event with one INSERT, worker
 * concurrency 2.
 *
 *   node bullmq-worker.js <redisUrl> <bullPrefix> <queueName> <databaseUrl> <schema>
 * Prints `ready` once the worker is connected; SIGTERM closes it (finishing active jobs).
 */
import pg from 'pg'
import { Worker } from 'bullmq'
import type { AuditEvent } from '../../src/event/types.js'
import { insertValuesSql, rowValues } from './rows.js'

const [redisUrl, prefix, queueName, databaseUrl, schema] = process.argv.slice(2)
if (!redisUrl || !prefix || !queueName || !databaseUrl || !schema) {
  throw new Error('usage: bullmq-worker <redisUrl> <bullPrefix> <queueName> <databaseUrl> <schema>')
}

const CONCURRENCY = 2
// Prisma's default pool is 2 × CPUs + 1; concurrency 2 never uses more than 2 of them.
const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${schema}`, max: 5 })
const INSERT_ONE = insertValuesSql(1)
const url = new URL(redisUrl)

const worker = new Worker<AuditEvent>(
  queueName,
  async (job) => {
    const event = job.data
    if (!event.action) throw new Error('action is required')
    await pool.query(INSERT_ONE, rowValues(event))
    return { id: event.id }
  },
  {
    connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
    prefix,
    concurrency: CONCURRENCY,
  },
)
worker.on('failed', (job, error) => process.stderr.write(`job ${job?.id} failed: ${error.message}\n`))
worker.on('error', (error) => process.stderr.write(`worker error: ${error.message}\n`))
await worker.waitUntilReady()
process.stdout.write('ready\n')
process.once('SIGTERM', () => {
  void (async () => {
    await worker.close()
    await pool.end()
  })()
})
