/**
 * What waiting for a replica costs: queue-mode `log()` against a local Redis Cluster (three
 * masters, three replicas, started here), with the master alone acknowledging (`replicaAcks` 0)
 * and with one replica confirming each enqueue through `WAIT` (`replicaAcks` 1). 128 concurrent
 * callers, each logging one event at a time; events/s and log() latency p50/p99; the two settings
 * alternate run by run so drift on a shared machine hits both alike. No worker runs: this measures
 * the producer's acknowledgement path only.
 *
 *   npm run bench:cluster -- [--runs 3] [--events 20000]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { startRedisCluster } from '../test/support/redis-cluster.js'
import { formatRate } from './harness.js'
import { median, percentile, printTable } from './stats.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, events: { type: 'string', default: '20000' } } })
const RUNS = Number(values.runs)
const EVENTS = Number(values.events)
const CALLERS = 128

const cluster = await startRedisCluster()
const dir = await mkdtemp(join(tmpdir(), 'auditq-bench-cluster-'))
const store = await createEmbeddedStore({ dataDir: dir })
await store.migrate()

async function run(replicaAcks: number, round: number): Promise<{ rate: number; p50: number; p99: number; spilled: number }> {
  const logger = await createAuditLogger({
    store,
    redisUrl: cluster.url,
    dataDir: join(dir, `r${replicaAcks}-${round}`),
    queue: { cluster: true, clusterNodes: cluster.nodeList, name: `bench-${replicaAcks}-${round}`, capEvents: EVENTS * 2, replicaAcks, replicaAckTimeoutMs: 1_000 },
  })
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < EVENTS) {
        next++
        const t0 = performance.now()
        await logger.log({ tenant_id: 'bench', action: 'bench.event', actor_id: `user-${next % 500}`, metadata: { n: next } })
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const spilled = logger.stats().spilled
  await logger.close()
  latencies.sort((a, b) => a - b)
  return { rate: EVENTS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), spilled }
}

const results = new Map<number, { rate: number; p50: number; p99: number; spilled: number }[]>([[0, []], [1, []]])
try {
  for (let round = 0; round < RUNS; round++) {
    for (const acks of round % 2 === 0 ? [0, 1] : [1, 0]) results.get(acks)!.push(await run(acks, round))
  }
} finally {
  await store.close()
  await cluster.destroy()
  await rm(dir, { recursive: true, force: true })
}

const row = (acks: number, label: string) => {
  const runs = results.get(acks)!
  return [label, formatRate(median(runs.map((r) => r.rate))), median(runs.map((r) => r.p50)).toFixed(2), median(runs.map((r) => r.p99)).toFixed(2), String(runs.reduce((n, r) => n + r.spilled, 0))]
}
const base = median(results.get(0)!.map((r) => r.rate))
const waited = median(results.get(1)!.map((r) => r.rate))
console.log(`\nqueue-mode log() on a 3-master / 3-replica local Redis Cluster: ${CALLERS} callers, ${EVENTS} events per run, median of ${RUNS}`)
printTable(['acknowledged by', 'events/s', 'log() p50 ms', 'log() p99 ms', 'spilled (all runs)'], [row(0, 'master (replicaAcks 0)'), row(1, 'master + 1 replica (replicaAcks 1)')])
console.log(`replica acknowledgement costs ${(100 * (1 - waited / base)).toFixed(1)} % of throughput`)
