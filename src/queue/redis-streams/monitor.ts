import type { QueueRedis } from './connection.js'
import type { QueueKeys } from './keys.js'
import { QueueScripts } from './scripts.js'

/**
 * Counters shared by every producer and worker of a queue, kept in Redis so a dashboard sees the
 * sum across processes. `overflow`, `dead_lettered` and `replayed` are counted by the scripts
 * themselves, atomically with the change they count; the SDK counts what its policy did.
 */
export const QUEUE_COUNTERS = ['overflow', 'spilled', 'dropped', 'dead_lettered', 'replayed'] as const
export type QueueCounter = (typeof QUEUE_COUNTERS)[number]
export type QueueCounters = Record<QueueCounter, number>

/** A worker's live figures (events/s, batch size, lag…); the worker chooses the names. */
export type WorkerFigures = Readonly<Record<string, number | string>>

export interface LiveWorker {
  workerId: string
  figures: WorkerFigures
  /** Time of its last heartbeat, by Redis' clock. */
  lastHeartbeatAt: string
}

/** Index entries of workers silent this long are forgotten; their figures expired long before. */
const WORKER_INDEX_RETENTION_MS = 24 * 60 * 60 * 1000

export class QueueMonitor {
  private readonly scripts: QueueScripts

  constructor(
    private readonly redis: QueueRedis,
    private readonly keys: QueueKeys,
  ) {
    this.scripts = new QueueScripts(redis, keys)
  }

  /**
   * Publishes a worker's figures, alive for `ttlMs`. Beat well within the TTL (a third of it), so
   * one slow beat does not make a healthy worker look dead.
   */
  async publishHeartbeat(workerId: string, figures: WorkerFigures, ttlMs: number): Promise<void> {
    await this.scripts.heartbeat(workerId, JSON.stringify(figures), Math.max(1, Math.round(ttlMs)), WORKER_INDEX_RETENTION_MS)
  }

  /** Workers whose last heartbeat has not expired, most recent beat first. */
  async liveWorkers(): Promise<LiveWorker[]> {
    const index = await this.redis.zrange(this.keys.workers, 0, '-1', 'REV', 'WITHSCORES')
    const candidates: { workerId: string; beatAtMs: number }[] = []
    for (let i = 0; i + 1 < index.length; i += 2) candidates.push({ workerId: index[i]!, beatAtMs: Number(index[i + 1]) })
    if (candidates.length === 0) return []
    // A worker is live while its figures key exists: Redis' TTL decides, not anyone's clock.
    const figures = await this.redis.mget(candidates.map(({ workerId }) => this.keys.worker(workerId)))
    return candidates.flatMap(({ workerId, beatAtMs }, i) => {
      const json = figures[i]
      if (json === null || json === undefined) return []
      return [{ workerId, figures: JSON.parse(json) as WorkerFigures, lastHeartbeatAt: new Date(beatAtMs).toISOString() }]
    })
  }

  async incrementCounter(name: QueueCounter, by = 1): Promise<number> {
    return this.redis.hincrby(this.keys.counters, name, by)
  }

  /** Every counter, 0 for those never incremented. */
  async readCounters(): Promise<QueueCounters> {
    const stored = await this.redis.hgetall(this.keys.counters)
    const counters = Object.fromEntries(QUEUE_COUNTERS.map((name) => [name, 0])) as QueueCounters
    for (const name of QUEUE_COUNTERS) if (stored[name] !== undefined) counters[name] = Number(stored[name])
    return counters
  }
}
