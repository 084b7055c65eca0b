/**
 * Queue-mode throughput against the number of stream shards: 1, 2 and 3 shards on a local Redis
 * Cluster (three masters, three replicas, started here), each with the master alone acknowledging
 * (`replicaAcks` 0) and with one replica confirming every enqueue (`replicaAcks` 1). Per run: a
 * fresh queue, N concurrent callers each logging one event at a time through the SDK, and two
 * worker runtimes (in this process) draining every shard into an in-memory store, so the store is
 * not what limits the figure. Measured: `log()` acknowledgements per second (producer side) and
 * events per second from the first `log()` until 99 % are stored (end to end; the last part-filled
 * batches wait for the worker's flush interval, measured apart as the idle latency). The six
 * settings rotate run by run, so drift on a shared machine hits all alike; medians of --runs.
 *
 *   npm run bench:scale-queue -- [--runs 3] [--events 20000] [--callers 128]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { openQueueClient } from '../src/queue/redis-streams/index.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { createLogger } from '../src/util/logger.js'
import { startWorkerRuntime } from '../src/worker/runtime.js'
import { MemoryStore } from '../test/support/memory-store.js'
import { startRedisCluster } from '../test/support/redis-cluster.js'
import { formatRate } from './harness.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, events: { type: 'string', default: '20000' }, callers: { type: 'string', default: '128' } } })
const RUNS = Number(values.runs)
const EVENTS = Number(values.events)
const CALLERS = Number(values.callers)
const WORKERS = 2
const IDLE_PROBES = 20
const SETTINGS = [1, 2, 3].flatMap((shards) => [0, 1].map((replicaAcks) => ({ shards, replicaAcks })))
const silent = createLogger({ level: 'silent' })

const cluster = await startRedisCluster()
const dir = await mkdtemp(join(tmpdir(), 'auditq-bench-scale-queue-'))

interface Result {
  logRate: number
  endToEndRate: number
  spilled: number
  /** log() resolved → stored, one event at a time into the idle queue: the latency of a quiet shard set. */
  idleLatencyMs: number
}

async function run(shards: number, replicaAcks: number, round: number): Promise<Result> {
  const name = `scale-${shards}-${replicaAcks}-${round}`
  const queue = { cluster: true, clusterNodes: cluster.nodeList, name, shards }
  const store = new MemoryStore()
  const logger = await createAuditLogger({
    store,
    redisUrl: cluster.url,
    dataDir: join(dir, name),
    queue: { ...queue, capEvents: EVENTS * 2, replicaAcks, replicaAckTimeoutMs: 1_000 },
  })
  const config = loadConfig({ logLevel: 'silent', redisUrl: cluster.url, queue })
  const clients = Array.from({ length: WORKERS }, () => openQueueClient({ url: cluster.url, cluster: true, clusterNodes: cluster.nodeList }, { maxRetriesPerRequest: null }))
  const workers = await Promise.all(clients.map((redis, i) => startWorkerRuntime({ config, store, redis, logger: silent, workerId: `${name}-w${i}` })))
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < EVENTS) {
        next++
        await logger.log({ tenant_id: 'bench', action: 'bench.event', actor_id: `user-${next % 500}`, metadata: { n: next } })
      }
    }),
  )
  const logged = (performance.now() - started) / 1000
  // Throughput to the 99th percent stored: the last part-filled batches wait up to the worker's
  // flush interval (1 s by default), a latency measured on its own below, not a rate.
  while (store.rows.size < EVENTS * 0.99) await new Promise((resolve) => setTimeout(resolve, 5))
  const stored = (performance.now() - started) / 1000
  while (store.rows.size < EVENTS) await new Promise((resolve) => setTimeout(resolve, 5))
  const spilled = logger.stats().spilled
  const latencies: number[] = []
  for (let i = 0; i < IDLE_PROBES; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    const id = await logger.log({ tenant_id: 'bench', action: 'bench.idle', actor_id: 'probe' })
    const at = performance.now()
    while (!store.rows.has(`bench\u0000${id}`)) await new Promise((resolve) => setTimeout(resolve, 1))
    latencies.push(performance.now() - at)
  }
  await Promise.all(workers.map((worker) => worker.stop(2_000)))
  for (const redis of clients) redis.disconnect()
  await logger.close()
  return { logRate: EVENTS / logged, endToEndRate: (EVENTS * 0.99) / stored, spilled, idleLatencyMs: median(latencies) }
}

const results = new Map(SETTINGS.map((setting) => [`${setting.shards}/${setting.replicaAcks}`, [] as Result[]]))
try {
  for (let round = 0; round < RUNS; round++) {
    // Rotated each round: no setting always runs first (cold) or last.
    const order = SETTINGS.map((_, i) => SETTINGS[(i + round) % SETTINGS.length]!)
    for (const { shards, replicaAcks } of order) results.get(`${shards}/${replicaAcks}`)!.push(await run(shards, replicaAcks, round))
  }
} finally {
  await cluster.destroy()
  await rm(dir, { recursive: true, force: true })
}

const med = (shards: number, acks: number, pick: (r: Result) => number) => median(results.get(`${shards}/${acks}`)!.map(pick))
const rows = SETTINGS.map(({ shards, replicaAcks }) => {
  const endToEnd = med(shards, replicaAcks, (r) => r.endToEndRate)
  const baseline = med(1, replicaAcks, (r) => r.endToEndRate)
  return [
    String(shards),
    String(replicaAcks),
    formatRate(med(shards, replicaAcks, (r) => r.logRate)),
    formatRate(endToEnd),
    `${(endToEnd / baseline).toFixed(2)}×`,
    String(results.get(`${shards}/${replicaAcks}`)!.reduce((n, r) => n + r.spilled, 0)),
    med(shards, replicaAcks, (r) => r.idleLatencyMs).toFixed(1),
  ]
})
console.log(`\nqueue mode on a 3-master / 3-replica local Redis Cluster: ${CALLERS} callers, ${WORKERS} workers, ${EVENTS} events per run, median of ${RUNS}`)
printTable(['shards', 'replicaAcks', 'log() events/s', 'end-to-end events/s (to 99 % stored)', 'vs 1 shard (same acks)', 'spilled (all runs)', 'idle log() → stored, ms'], rows)
