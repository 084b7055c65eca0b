import type { QueueStatus } from '../queue/queue-status.js'
import type { QueueCounters, RedisLoss, WorkerFigures } from '../queue/redis-streams/index.js'
import type { SpillStats } from '../queue/spill/index.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { LoggerStatsSnapshot } from '../sdk/stats.js'
import type { ReadReplicaStatus, Store } from '../store/store.js'
import { withDeadline } from '../util/deadline.js'
import { decodeHeartbeat } from '../worker/heartbeat.js'

/** One worker's figures as its last heartbeat carried them (`WorkerHeartbeat`, src/worker/heartbeat.ts). */
export interface WorkerReading {
  workerId: string
  totalStored: number
  currentBatchSize: number
  insertsLastMinute: number
  failuresLastMinute: number
  batchesLastMinute: number
  avgBatchTimeMs: number
  lastHeartbeatAt: string
}

/** A stream that is not delivering: why, and for how long. */
export interface StreamHealthReading {
  name: string
  state: 'active' | 'paused' | 'parked'
  /** Seconds since the current run of failures began. */
  failing_seconds: number
  last_error: string | null
}

/**
 * Everything the monitoring reads at one instant, as raw cumulative counters and gauges. Rates and
 * per-minute figures are differences between two readings (see figures.ts), so reading is I/O only.
 */
export interface PipelineReading {
  at: number
  mode: 'direct' | 'queue'
  store: 'connected' | 'unreachable'
  /** null in direct mode. */
  redis: 'connected' | 'unreachable' | null
  /** Queue mode: entries in the stream; null when Redis cannot be read. */
  queueLength: number | null
  /** Oldest entry in the stream (queue mode); null when empty or unknown. */
  queueOldestAgeMs: number | null
  deadLetters: number | null
  workers: WorkerReading[]
  /** This process's SDK counters (ingest, group commit, overflow policy). */
  sdk: LoggerStatsSnapshot
  /** Counters every producer and worker of the queue shares in Redis; null in direct mode or when unreadable. */
  shared: QueueCounters | null
  /** Queue mode: what a Redis crash would lose under its settings. */
  redisLossWindow: QueueStatus['redisLossWindow'] | null
  /** Queue mode: losses Redis caused (restarted empty, keys deleted), not yet acknowledged. */
  redisLosses: RedisLoss[] | null
  /** Queue mode: per-shard figures (the totals above are their sums); null when unreadable. */
  queueShards?: QueueStatus['shards']
  /** Producer sequence numbers missing past the in-flight bound; null when the check has not run. */
  producerMissingEvents?: number | null
  /** This process's spill journal (queue mode). */
  spill: SpillReading | null
  /** PostgreSQL with a read replica configured: whether reads use it; null otherwise. */
  readReplica?: ReadReplicaStatus | null
  /** Rows in the partitioned layout's default partition; null in the plain layout. */
  defaultPartitionRows?: number | null
  /** Streams failing or parked; null when the store keeps none or could not be read. */
  streams?: StreamHealthReading[] | null
}

/** A fault the spill journal lives with right now: the cause's errno and message. */
export interface SpillFaultReading {
  errno: string
  message: string
  since: string
}

export interface SpillReading {
  events: number
  bytes: number
  /** Appends refused after a failed write (until one succeeds). */
  refusing?: SpillFaultReading | null
  /** Replay stopped on a fault of the journal's disk. */
  replayFailing?: SpillFaultReading | null
  /** Replay cannot record its position on disk (goes on from memory). */
  checkpointFailing?: SpillFaultReading | null
}

export interface ReadingSources {
  store: Store
  audit: AuditLogger
  pingTimeoutMs: number
  /** Present in queue mode. */
  queueStatus?: () => Promise<QueueStatus>
  /** Missing producer events (a cached completeness check: it scans every producer's sequence). */
  producerMissing?: () => Promise<number | null>
  /** Streams not delivering (failing or parked). */
  streamHealth?: () => Promise<StreamHealthReading[]>
  now?: () => number
}

export function pipelineReader(sources: ReadingSources): () => Promise<PipelineReading> {
  const now = sources.now ?? Date.now
  return async () => {
    const [storeUp, queue, producerMissingEvents, streams] = await Promise.all([
      pingWithin(sources.store, sources.pingTimeoutMs),
      sources.queueStatus?.(),
      sources.producerMissing?.() ?? null,
      // A store that cannot list streams is already reported as unreachable; no second finding.
      sources.streamHealth ? withDeadline(sources.streamHealth().catch(() => null), sources.pingTimeoutMs) : undefined,
    ])
    const sdk = sources.audit.stats()
    return {
      at: now(),
      mode: queue ? 'queue' : 'direct',
      store: storeUp ? 'connected' : 'unreachable',
      redis: queue ? queue.redis : null,
      queueLength: queue ? queue.queueLength : null,
      queueOldestAgeMs: queue ? queue.oldestEventAgeMs : null,
      deadLetters: queue ? queue.deadLetters : null,
      workers: queue ? queue.liveWorkers.map((w) => workerReading(w.workerId, w.figures, w.lastHeartbeatAt)) : [],
      sdk,
      shared: queue?.counters ?? null,
      redisLossWindow: queue ? queue.redisLossWindow : null,
      redisLosses: queue ? queue.losses : null,
      queueShards: queue ? queue.shards : null,
      spill: spillReading(sdk.spill),
      readReplica: sources.store.readReplicaStatus?.() ?? null,
      defaultPartitionRows: sources.store.partitionStatus?.()?.defaultRows ?? null,
      producerMissingEvents,
      streams: streams ?? null,
    }
  }
}

function workerReading(workerId: string, figures: WorkerFigures, lastHeartbeatAt: string): WorkerReading {
  const heartbeat = decodeHeartbeat(figures)
  return {
    workerId,
    totalStored: heartbeat.total_stored,
    currentBatchSize: heartbeat.current_batch_size,
    insertsLastMinute: heartbeat.inserts_last_minute,
    failuresLastMinute: heartbeat.failures_last_minute,
    batchesLastMinute: heartbeat.batches_last_minute,
    avgBatchTimeMs: heartbeat.avg_batch_time_ms,
    lastHeartbeatAt,
  }
}

/** The spill figures health reads, from the SDK's snapshot (null in direct mode: no journal). */
function spillReading(spill: SpillStats | null): SpillReading | null {
  if (spill === null) return null
  const { events, bytes, refusing, replayFailing, checkpointFailing } = spill
  const pick = (f: SpillFaultReading | null | undefined) => (f ? { errno: f.errno, message: f.message, since: f.since } : null)
  return { events, bytes, refusing: pick(refusing), replayFailing: pick(replayFailing), checkpointFailing: pick(checkpointFailing) }
}

export async function pingWithin(store: Store, timeoutMs: number): Promise<boolean> {
  return (await withDeadline(store.ping().then(() => true), timeoutMs)) ?? false
}
