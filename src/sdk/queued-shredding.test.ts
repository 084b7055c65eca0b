/**
 * Queue mode with crypto-shredding: the producer seals before enqueueing, so Redis holds only
 * ciphertext, and a worker configured without any master key stores those events as they are.
 * Reading with the master key reveals them. Both stores.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { freshStore, type StoreKind } from '../../test/support/app.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { postgresAvailable, REDIS_URL } from '../../test/support/services.js'
import { verifyChains } from '../integrity/verify.js'
import { connectRedis, queueKeys, RedisStreamsConsumer } from '../queue/redis-streams/index.js'
import { withShredding } from '../store/shredding-store.js'
import { createLogger } from '../util/logger.js'
import { QueueWorker } from '../worker/queue-worker.js'
import { createAuditLogger } from './audit-logger.js'

const hasRedis = await redisAvailable()
const hasPostgres = await postgresAvailable()
const silent = createLogger({ level: 'silent' })

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(!hasRedis || (kind === 'postgres' && !hasPostgres))(`queue mode with crypto-shredding (${kind})`, () => {
    const cleanups: (() => Promise<void>)[] = []
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })

    it('enqueues ciphertext only; a worker without the master key stores it; readers with the key see the values', async () => {
      const prefix = uniqueRedisPrefix('shred')
      const redis = connectRedis(REDIS_URL)
      const keys = queueKeys({ prefix })
      const spillDir = mkdtempSync(join(tmpdir(), 'auditq-spill-'))
      const t = await freshStore(kind)
      cleanups.push(async () => {
        await deleteKeys(redis, prefix)
        redis.disconnect()
        await t.dispose()
        rmSync(spillDir, { recursive: true, force: true })
      })
      const shredding = { subjectField: 'actor_id' as const, fields: ['ip_address', 'metadata.email'], masterKey: randomBytes(32), keyCacheTtlMs: 30_000 }
      const audit = await createAuditLogger({ store: t.store, logger: silent, shredding, queue: { redis, prefix, spillDir } })
      cleanups.push(() => audit.close())

      const id = await audit.log({ action: 'queued.login', actor_id: 'dana', ip_address: '192.0.2.55', metadata: { email: 'dana@example.com' } })
      const entries = await redis.xrange(keys.events, '-', '+')
      expect(entries).toHaveLength(1)
      const onTheWire = JSON.stringify(entries)
      for (const secret of ['dana', '192.0.2.55']) expect(onTheWire).not.toContain(secret)
      expect(onTheWire).toContain('aqe1:')

      // The worker is handed the plain store: no shredding, no master key.
      const consumer = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'w1' })
      const worker = new QueueWorker({ consumer, store: t.store, logger: silent, flushIntervalMs: 20, idleBlockMs: 20 })
      worker.start()
      cleanups.push(async () => {
        await worker.stop(5_000)
        await consumer.close()
      })
      await vi.waitFor(async () => expect(await t.store.getById(id)).not.toBeNull(), { timeout: 10_000 })
      const stored = (await t.store.getById(id))!
      expect(stored).toMatchObject({ actor_id: `aqs:${stored.subject_index}`, ip_address: null, metadata: {} })

      const reading = withShredding(t.store, shredding).store
      expect(await reading.getById(id)).toMatchObject({ actor_id: 'dana', ip_address: '192.0.2.55', metadata: { email: 'dana@example.com' } })
      expect((await reading.query({ actor_id: 'dana' }, { limit: 5 })).events.map((e) => e.id)).toEqual([id])
      expect((await verifyChains(t.store.kind, t.store.integrity!)).intact).toBe(true)
    })
  })
}
