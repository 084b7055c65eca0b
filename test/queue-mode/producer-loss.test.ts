/**
 * Producer sequences name real queue loss exactly, and raise no alarm without loss. A private
 * `redis-server` started without persistence: stream entries deleted by hand, and Redis killed
 * (SIGKILL) with a backlog and started again empty. The producer is the queue-mode SDK, the
 * worker the real QueueWorker, the store the embedded one; the check is `checkCompleteness`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkCompleteness, type CompletenessReport } from '../../src/completeness/check.js'
import { decodeEvent } from '../../src/queue/redis-streams/codec.js'
import { queueKeys, RedisStreamsConsumer } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createLogger } from '../../src/util/logger.js'
import { QueueWorker } from '../../src/worker/queue-worker.js'
import { freshStore } from '../support/app.js'
import { redisServerAvailable, startRedisServer } from '../support/redis-server.js'
import { until } from './harness.js'

const silent = createLogger({ level: 'silent' })
const BOUND = 15 * 60_000
const later = () => new Date(Date.now() + 2 * BOUND)

describe.skipIf(!redisServerAvailable())('queue mode: producer sequences name lost events exactly', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  })

  async function setup() {
    const server = await startRedisServer({ args: ['--save', '', '--appendonly', 'no'] })
    cleanups.push(() => server.destroy())
    const redis = server.client()
    // While the killed server restarts the client reports refused connections; it reconnects by itself.
    redis.on('error', () => undefined)
    cleanups.push(async () => redis.disconnect())
    const keys = queueKeys({ prefix: 'auditq' })
    const t = await freshStore('embedded')
    cleanups.push(() => t.dispose())
    const spillDir = mkdtempSync(join(tmpdir(), 'auditq-spill-'))
    cleanups.push(async () => rmSync(spillDir, { recursive: true, force: true }))
    const startWorker = async () => {
      const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'w1' })
      const worker = new QueueWorker({ consumer, store: t.store, logger: silent, flushIntervalMs: 20, idleBlockMs: 20 })
      worker.start()
      const stop = async () => {
        await worker.stop(5_000)
        await consumer.close()
      }
      cleanups.push(stop)
      return stop
    }
    const report = (now?: Date): Promise<CompletenessReport> => checkCompleteness(t.store.completeness!, { producer_id: 'q-1' }, { inFlightBoundMs: BOUND, ...(now ? { now } : {}) })
    const finalHeadStored = async (lastSeq: number) => {
      await until(async () => (await report()).producers[0]?.head?.final === true && (await report()).producers[0]?.head?.last_seq === lastSeq, {
        timeoutMs: 30_000,
        describe: async () => JSON.stringify(await report()),
      })
    }
    return { server, redis, keys, t, spillDir, startWorker, report, finalHeadStored }
  }

  it('entries deleted from the stream by hand are named; normal draining leaves nothing missing', async () => {
    const s = await setup()
    const audit = await createAuditLogger({ store: s.t.store, logger: silent, producer: { id: 'q-1' }, queue: { redis: s.redis, spillDir: s.spillDir } })
    for (let i = 0; i < 10; i++) await audit.log({ action: 'doc.view' })
    // Someone deletes entries 3 and 4 before a worker reads them.
    const entries = (await s.redis.xrange(s.keys.events, '-', '+')) as Array<[string, string[]]>
    const doomed = entries.filter(([, fields]) => [3, 4].includes(decodeEvent(fields[1]!)!.producer_seq!)).map(([id]) => id)
    expect(doomed).toHaveLength(2)
    expect(await s.redis.xdel(s.keys.events, ...doomed)).toBe(2)
    await s.startWorker()
    await audit.close()
    await s.finalHeadStored(10)

    const now = await s.report()
    expect(now.producers[0]).toMatchObject({ stored: 8, missing: [], in_flight: [{ from: 3, to: 4 }] })
    const after = await s.report(later())
    expect(after.missing_events).toBe(2)
    expect(after.producers[0]!.missing.map((g) => [g.from, g.to])).toEqual([[3, 4]])
  })

  it('the drop policy: refused events are named as rejected with AUDITQ_QUEUE_FULL, the rest stored, nothing missing', async () => {
    const s = await setup()
    const audit = await createAuditLogger({ store: s.t.store, logger: silent, producer: { id: 'q-1' }, queue: { redis: s.redis, spillDir: s.spillDir, capEvents: 5, overflowPolicy: 'drop' } })
    const outcomes: string[] = []
    for (let i = 0; i < 8; i++) outcomes.push(await audit.log({ action: 'doc.view' }).then(() => 'ok', (error: { code: string }) => error.code))
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'AUDITQ_QUEUE_FULL', 'AUDITQ_QUEUE_FULL', 'AUDITQ_QUEUE_FULL'])
    await s.startWorker()
    // Room again once the worker drains: the rejection record and the final head go through.
    await until(async () => (await s.report()).producers[0]?.stored === 5, { timeoutMs: 30_000, describe: async () => JSON.stringify(await s.report()) })
    await audit.close()
    await s.finalHeadStored(8)
    const after = await s.report(later())
    expect(after.producers[0]).toMatchObject({ stored: 5, rejected: 3, rejected_ranges: [{ from: 6, to: 8, rule: 'AUDITQ_QUEUE_FULL' }], missing: [], in_flight: [] })
  })

  it('a Redis without persistence killed with a backlog: exactly the queued numbers are missing, the rest stored', async () => {
    const s = await setup()
    const audit = await createAuditLogger({ store: s.t.store, logger: silent, producer: { id: 'q-1' }, queue: { redis: s.redis, spillDir: s.spillDir } })
    const stopWorker = await s.startWorker()
    for (let i = 0; i < 5; i++) await audit.log({ action: 'doc.view' })
    await until(async () => (await s.report()).producers[0]?.stored === 5, { timeoutMs: 30_000, describe: async () => JSON.stringify(await s.report()) })
    await stopWorker()
    for (let i = 0; i < 5; i++) await audit.log({ action: 'doc.view' })
    await s.server.kill()
    await s.server.restart()
    // The client reconnects to the empty Redis; events 11-15 are queued there (or spilled and replayed).
    for (let i = 0; i < 5; i++) await audit.log({ action: 'doc.view' })
    await s.startWorker()
    await audit.close()
    await s.finalHeadStored(15)
    await until(async () => (await s.report()).producers[0]?.stored === 10, { timeoutMs: 30_000, describe: async () => JSON.stringify(await s.report()) })

    const after = await s.report(later())
    expect(after.producers[0]).toMatchObject({ stored: 10, rejected: 0 })
    expect(after.producers[0]!.missing.map((g) => [g.from, g.to])).toEqual([[6, 10]])
  })
})
