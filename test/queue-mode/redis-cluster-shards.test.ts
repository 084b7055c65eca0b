/**
 * A sharded queue on a real Redis Cluster (three masters, three replicas): the shards' hash tags
 * put them on three different masters, the status names each shard's master, and with
 * `replicaAcks: 1` killing one shard's master under load loses nothing acknowledged.
 */
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { beforeAll, describe, expect, it } from 'vitest'
import { redisServerAvailable } from '../support/redis-server.js'
import { useRedisCluster } from '../support/redis-cluster-rig.js'
import { sleep, until } from '../support/wait.js'
import { loadConfig } from '../../src/config.js'
import { queueStatusReader } from '../../src/queue/queue-status.js'
import { openQueueClient, shardLayout, type QueueRedis } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../../src/sdk/audit-logger.js'
import { createEmbeddedStore } from '../../src/store/embedded/embedded-store.js'
import type { Store } from '../../src/store/store.js'
import { createLogger } from '../../src/util/logger.js'
import { startWorkerRuntime } from '../../src/worker/runtime.js'

const available = redisServerAvailable()

describe.skipIf(!available)('sharded queue on a Redis Cluster', () => {
  const rig = useRedisCluster({ dirPrefix: 'auditq-cluster-shards-' })
  const prefix = 'sharded'
  const name = 'orders'
  const layout = shardLayout({ prefix, queue: name, shards: 3 })
  const queue = { cluster: true, clusterNodes: [] as string[], prefix, name, shards: 3 }
  // After the rig's own beforeAll: vitest runs a suite's before-hooks in the order they are registered.
  beforeAll(() => {
    queue.clusterNodes = rig.cluster.nodeList
  })

  const client = (): QueueRedis => {
    const redis = openQueueClient({ url: rig.cluster.url, cluster: true, clusterNodes: rig.cluster.nodeList }, { maxRetriesPerRequest: null })
    rig.onCleanup(async () => redis.disconnect())
    return redis
  }

  it('places the three shards on three different masters, and the status names each one', async () => {
    const node = new Redis(rig.cluster.nodes[0]!.port, '127.0.0.1')
    rig.onCleanup(async () => node.disconnect())
    const masters = new Set<number>()
    for (const shard of layout) {
      // Every key of a shard is in the one slot the layout computed, whatever the key.
      for (const key of [shard.keys.events, shard.keys.deadLetters, shard.keys.counters, shard.keys.identity]) {
        expect(await node.call('CLUSTER', 'KEYSLOT', key)).toBe(shard.slot)
      }
      masters.add((await rig.cluster.ownerOf(shard.keys.events)).master)
    }
    expect(masters.size).toBe(3)
    // CLUSTER SHARDS agrees: each shard's slot is in a different shard of the cluster.
    const shards = (await node.call('CLUSTER', 'SHARDS')) as unknown[][]
    const holder = (slot: number) =>
      shards.findIndex((entry) => {
        const slots = entry[entry.indexOf('slots') + 1] as number[]
        for (let i = 0; i + 1 < slots.length; i += 2) if (slot >= slots[i]! && slot <= slots[i + 1]!) return true
        return false
      })
    expect(new Set(layout.map((shard) => holder(shard.slot))).size).toBe(3)

    const redis = client()
    const config = loadConfig({ redisUrl: rig.cluster.url, queue })
    await until(() => redis.status === 'ready', 'the cluster client ready')
    const status = await queueStatusReader(redis, config)()
    expect(status.redis).toBe('connected')
    for (const [i, shard] of layout.entries()) {
      expect(status.shards?.[i]?.shard).toBe(shard.tag)
      expect(status.shards?.[i]?.node).toBe(`127.0.0.1:${(await rig.cluster.ownerOf(shard.keys.events)).master}`)
    }
  }, 30_000)

  it('with replicaAcks 1, keeps every acknowledged event when one shard\'s master is killed under load', async () => {
    // So the other shards' masters keep serving while the victim's slots have no master: the
    // producers route around it and the workers keep draining the rest.
    for (const node of rig.cluster.nodes) {
      const admin = new Redis(node.port, '127.0.0.1')
      await admin.config('SET', 'cluster-require-full-coverage', 'no')
      admin.disconnect()
    }
    const store: Store = await createEmbeddedStore({ dataDir: join(rig.dir, 'load') })
    await store.migrate()
    rig.onCleanup(() => store.close())
    const logger = await createAuditLogger({
      store,
      redisUrl: rig.cluster.url,
      dataDir: join(rig.dir, 'load'),
      queue: { ...queue, replicaAcks: 1, replicaAckTimeoutMs: 300, replayEveryMs: 100, redisCommandTimeoutMs: 1_000 },
    })
    rig.onCleanup(() => logger.close())
    const config = loadConfig({ redisUrl: rig.cluster.url, queue, worker: { claimIdleMs: 1_000 } })
    for (const workerId of ['w1', 'w2']) {
      const runtime = await startWorkerRuntime({ config, store, redis: client(), logger: createLogger({ level: 'silent' }), workerId })
      rig.onCleanup(() => runtime.stop(2_000))
    }
    const acknowledged: string[] = []
    let running = true
    const loops = Array.from({ length: 6 }, async (_, loop) => {
      for (let i = 0; running; i++) acknowledged.push(await logger.log({ tenant_id: 'acme', action: 'under.load', actor_id: `loop${loop}-${i}` }))
    })
    await sleep(1_000)
    const victim = layout[1]!
    const owner = await rig.cluster.ownerOf(victim.keys.events)
    rig.cluster.kill(owner.master)
    await sleep(3_000)
    running = false
    await Promise.all(loops)
    await rig.cluster.waitForFailover(owner.master, victim.keys.events)

    const stored = async () => {
      const ids = new Set<string>()
      for await (const event of store.stream({ tenant_id: 'acme' })) ids.add(event.id)
      return ids
    }
    await until(async () => (await stored()).size >= new Set(acknowledged).size, 'every acknowledged event stored', 40_000)
    const ids = await stored()
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([])
    expect(acknowledged.length).toBeGreaterThan(100)
  }, 60_000)
})
