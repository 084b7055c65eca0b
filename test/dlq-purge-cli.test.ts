/**
 * `auditq dlq purge` as an operator runs it: the purged letters' producer numbers read as purged in
 * `auditq completeness` (accounted for, then discarded), not as dead-lettered or missing, and the
 * purge itself is in the access trail.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { connectRedis } from '../src/queue/redis-streams/connection.js'
import { RedisStreamsConsumer } from '../src/queue/redis-streams/consumer.js'
import { DeadLetterQueue } from '../src/queue/redis-streams/dead-letters.js'
import { queueKeys } from '../src/queue/redis-streams/keys.js'
import { RedisStreamsProducer } from '../src/queue/redis-streams/producer.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../src/store/embedded/embedded-store.js'
import { createLogger } from '../src/util/logger.js'
import { recordDeadLetters } from '../src/worker/dead-letter-accounting.js'
import { CLI, cliEnv } from './support/cli.js'
import { openEmbeddedConnection } from './support/embedded-connection.js'
import { storedEvent } from './support/events.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from './support/redis-server.js'
import { REDIS_URL } from './support/services.js'

const hasRedis = await redisAvailable()

describe.skipIf(!hasRedis)('auditq dlq purge', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-dlq-purge-'))
  const prefix = uniqueRedisPrefix('dlq-purge')
  const redis = connectRedis(REDIS_URL)
  afterAll(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const auditq = (args: string[]) => {
    const env = cliEnv({ AUDITQ_REDIS_URL: REDIS_URL, AUDITQ_QUEUE_PREFIX: prefix, AUDITQ_QUEUE_NAME: 'q', AUDITQ_COMPLETENESS_IN_FLIGHT_BOUND_MS: '1000' })
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], { encoding: 'utf8', env })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }

  it('records the numbers it discards as purged, and the purge in the access trail', async () => {
    // Producer app-p: 1 and 4 stored; 2 and 3 refused by the store and dead-lettered (recorded as
    // the worker records them), with an unnumbered event beside them.
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    const numbered = (seq: number) => storedEvent({ producer_id: 'app-p', producer_seq: seq })
    await store.insertBatch([numbered(1), numbered(4)])
    const refused = [numbered(2), numbered(3), storedEvent({ action: 'unnumbered' })]
    expect(await recordDeadLetters(store, refused, 'value too long for type character varying(255)', createLogger({ level: 'silent' }))).toBe('recorded')
    await store.close()
    const keys = queueKeys({ prefix, queue: 'q' })
    await new RedisStreamsProducer({ redis, keys }).enqueue(refused)
    const worker = await RedisStreamsConsumer.start({ redis, keys, consumerName: 'w' })
    try {
      expect(await worker.deadLetter(await worker.read(3, 100), 'value too long for type character varying(255)')).toBe(3)
    } finally {
      await worker.close()
    }

    const before = auditq(['completeness', '--json'])
    expect(before.stderr).toBe('')
    expect(JSON.parse(before.stdout).producers[0]).toMatchObject({ producer_id: 'app-p', dead_lettered: 2, purged: 0, missing: [] })

    const purge = auditq(['dlq', 'purge', '--all'])
    expect(purge).toMatchObject({ code: 0, stdout: 'purged 3 dead letter(s); 2 producer number(s) recorded as purged\n' })
    expect(await new DeadLetterQueue(redis, keys).size()).toBe(0)

    const after = auditq(['completeness', '--json'])
    expect(after.code).toBe(0)
    const producer = JSON.parse(after.stdout).producers[0]
    expect(producer).toMatchObject({ producer_id: 'app-p', stored: 2, dead_lettered: 0, purged: 2, missing: [], in_flight: [] })
    expect(producer.purged_ranges).toEqual([{ from: 2, to: 3, rule: 'value too long for type character varying(255)' }])
    expect(auditq(['completeness']).stdout).toContain('purged from the dead-letter queue: 2-3')

    const db = openEmbeddedConnection(join(dataDir, EMBEDDED_DB_FILE), { timeoutMs: 5_000 })
    try {
      const trail = db.prepare<[], { actor_type: string; metadata: string }>("SELECT actor_type, metadata FROM audit_logs WHERE action = 'auditq.dlq.purge'").all()
      expect(trail).toHaveLength(1)
      expect(trail[0]!.actor_type).toBe('cli')
      expect(JSON.parse(trail[0]!.metadata)).toMatchObject({ what: { all: true } })
    } finally {
      db.close()
    }
  })
})
