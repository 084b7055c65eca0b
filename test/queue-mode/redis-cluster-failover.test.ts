/**
 * Queue mode on a real Redis Cluster (three masters, three replicas) whose master for the queue's
 * slot is killed. Redis replicates asynchronously: events a master acknowledged but had not yet
 * sent to its replica are gone after the replica takes over, and nothing in Redis says so. The
 * first test makes that window certain (the replica is frozen while events are acknowledged) and
 * counts exactly what is lost; the second runs the same sequence with `replicaAcks: 1` (Redis
 * WAIT) and requires every acknowledged event in the store, then kills a master again mid-run
 * under continuous load.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { redisServerAvailable } from '../support/redis-server.js'
import { useRedisCluster } from '../support/redis-cluster-rig.js'
import { sleep, until } from '../support/wait.js'
import { loadConfig } from '../../src/config.js'
import { openQueueClient, queueKeys, type QueueRedis } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import type { AuditLogger } from '../../src/sdk/types.js'
import { createEmbeddedStore } from '../../src/store/embedded/embedded-store.js'
import type { Store } from '../../src/store/store.js'
import { createLogger } from '../../src/util/logger.js'
import { startWorkerRuntime, type WorkerRuntime } from '../../src/worker/runtime.js'

const available = redisServerAvailable()

describe.skipIf(!available)('queue mode on a Redis Cluster: master failover', () => {
  const rig = useRedisCluster({ dirPrefix: 'auditq-cluster-' })

  /** Masters already failed over: their slots have no replica left, so each scenario takes another pair. */
  const usedMasters = new Set<number>()

  async function pipeline(name: string, replicaAcks: number) {
    const store = await createEmbeddedStore({ dataDir: join(rig.dir, name) })
    await store.migrate()
    rig.onCleanup(() => store.close())
    // A queue name whose slot sits on a master not failed over yet, with a replica to take over.
    // The queue name is the hash tag, so it decides the slot.
    const prefix = 'failover'
    let queueName = ''
    let owner = { master: 0, replicas: [] as number[] }
    for (let k = 0; ; k++) {
      queueName = `${name}-${k}`
      owner = await rig.cluster.ownerOf(queueKeys({ prefix, queue: queueName }).events)
      if (!usedMasters.has(owner.master) && owner.replicas.length > 0) break
      if (k > 200) throw new Error(`no master with a replica left for ${name}`)
    }
    usedMasters.add(owner.master)
    const logger = await createAuditLogger({
      store,
      redisUrl: rig.cluster.url,
      dataDir: join(rig.dir, name),
      queue: { cluster: true, clusterNodes: rig.cluster.nodeList, prefix, name: queueName, replicaAcks, replicaAckTimeoutMs: 300, replayEveryMs: 100, redisCommandTimeoutMs: 1_000 },
    })
    rig.onCleanup(() => logger.close())
    const config = loadConfig({ redisUrl: rig.cluster.url, queue: { cluster: true, clusterNodes: rig.cluster.nodeList, prefix, name: queueName }, worker: { claimIdleMs: 1_000 } })
    const startWorker = async () => {
      const redis: QueueRedis = openQueueClient({ url: rig.cluster.url, cluster: true, clusterNodes: rig.cluster.nodeList }, { maxRetriesPerRequest: null })
      const runtime = await startWorkerRuntime({ config, store, redis, logger: createLogger({ level: 'silent' }), workerId: `${name}-worker` })
      rig.onCleanup(async () => {
        await runtime.stop(2_000)
        redis.disconnect()
      })
      return runtime
    }
    return { store, logger, owner, eventsKey: queueKeys({ prefix, queue: queueName }).events, startWorker }
  }

  async function storedIds(store: Store, tenant: string): Promise<Set<string>> {
    const ids = new Set<string>()
    for await (const event of store.stream({ tenant_id: tenant })) ids.add(event.id)
    return ids
  }

  const logMany = (logger: AuditLogger, tenant: string, count: number, action: string) =>
    Promise.all(Array.from({ length: count }, (_, i) => logger.log({ tenant_id: tenant, action, actor_id: `u${i}` })))

  it('without replica acknowledgement, loses exactly the events the replica had not received', async () => {
    const { store, logger, owner, eventsKey, startWorker } = await pipeline('async', 0)
    const replicated = await logMany(logger, 'acme', 50, 'before.freeze')
    // Let the replica catch up on those, then cut it off: what the master acknowledges next exists only there.
    await sleep(500)
    await rig.cluster.isolate(owner.replicas[0]!, owner.master)
    const masterOnly = await logMany(logger, 'acme', 50, 'during.freeze')
    rig.cluster.kill(owner.master)
    rig.cluster.rejoin(owner.replicas[0]!)
    await rig.cluster.waitForFailover(owner.master, eventsKey)

    await startWorker()
    await until(async () => (await storedIds(store, 'acme')).size >= replicated.length, 'the replicated events stored')
    await sleep(1_500)
    const stored = await storedIds(store, 'acme')
    const lost = masterOnly.filter((id) => !stored.has(id))
    // Every event was acknowledged to its caller; the 50 that only the old master held are gone.
    expect(replicated.filter((id) => !stored.has(id))).toEqual([])
    expect(lost).toHaveLength(50)
  }, 90_000)

  it('with replicaAcks 1, keeps every acknowledged event through a replica cut off before the master dies', async () => {
    const { store, logger, owner, eventsKey, startWorker } = await pipeline('wait', 1)
    const acknowledged: string[] = []
    acknowledged.push(...(await logMany(logger, 'acme', 50, 'before.freeze')))
    await rig.cluster.isolate(owner.replicas[0]!, owner.master)
    // WAIT comes up short: these go to the spill journal instead of counting as queued.
    acknowledged.push(...(await logMany(logger, 'acme', 50, 'during.freeze')))
    expect(logger.stats().spill?.events ?? 0).toBeGreaterThanOrEqual(50)
    rig.cluster.kill(owner.master)
    rig.cluster.rejoin(owner.replicas[0]!)
    await rig.cluster.waitForFailover(owner.master, eventsKey)
    await startWorker()
    // The new master has no replica left: WAIT keeps coming up short, so nothing counts as queued
    // in Redis, yet nothing is lost either (the journal keeps re-sending, the store keeps one copy).
    await until(async () => (await storedIds(store, 'acme')).size >= new Set(acknowledged).size, 'every acknowledged event stored', 60_000)
    const stored = await storedIds(store, 'acme')
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
  }, 90_000)

  it('with replicaAcks 1, keeps every acknowledged event when the master is killed under continuous load', async () => {
    const { store, logger, owner, startWorker } = await pipeline('load', 1)
    await startWorker()
    const acknowledged: string[] = []
    let running = true
    const loops = Array.from({ length: 4 }, async (_, loop) => {
      for (let i = 0; running; i++) {
        acknowledged.push(await logger.log({ tenant_id: 'acme', action: 'under.load', actor_id: `loop${loop}-${i}` }))
      }
    })
    await sleep(1_000)
    rig.cluster.kill(owner.master)
    await sleep(3_000)
    running = false
    await Promise.all(loops)

    await until(async () => (await storedIds(store, 'acme')).size >= new Set(acknowledged).size, 'every acknowledged event stored', 60_000)
    const stored = await storedIds(store, 'acme')
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
    expect(acknowledged.length).toBeGreaterThan(100)
  }, 120_000)
})
