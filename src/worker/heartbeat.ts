import type { WorkerFigures } from '../queue/redis-streams/index.js'

/**
 * What each worker's heartbeat carries: written by the worker runtime every beat, read back by
 * the monitoring (health, `/monitoring`, Prometheus) from any process. The queue stores it as
 * opaque figures with the heartbeat's TTL; this is the one place that names the fields.
 */
export interface WorkerHeartbeat {
  pid: number
  /** Entries in the stream when the beat was taken (every shard the worker consumes, summed). */
  queue_length: number
  /** Age of the oldest entry in any shard; 0 when all are empty. */
  oldest_event_age_ms: number
  current_batch_size: number
  inserts_last_minute: number
  failures_last_minute: number
  batches_last_minute: number
  avg_batch_time_ms: number
  /** Since the worker started. */
  total_stored: number
  total_dead_lettered: number
}

const FIELDS = [
  'pid',
  'queue_length',
  'oldest_event_age_ms',
  'current_batch_size',
  'inserts_last_minute',
  'failures_last_minute',
  'batches_last_minute',
  'avg_batch_time_ms',
  'total_stored',
  'total_dead_lettered',
] as const satisfies ReadonlyArray<keyof WorkerHeartbeat>

export function encodeHeartbeat(heartbeat: WorkerHeartbeat): WorkerFigures {
  return Object.fromEntries(FIELDS.map((field) => [field, heartbeat[field]]))
}

/**
 * Tolerant: a field missing or not a finite number (a worker of another version, a hand-edited
 * key) reads as 0, so one odd heartbeat never takes the monitoring down.
 */
export function decodeHeartbeat(figures: WorkerFigures): WorkerHeartbeat {
  const heartbeat = {} as Record<(typeof FIELDS)[number], number>
  for (const field of FIELDS) {
    const value = Number(figures[field])
    heartbeat[field] = Number.isFinite(value) ? value : 0
  }
  return heartbeat
}
