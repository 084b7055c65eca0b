import type { QueueRedis } from './connection.js'
import type { AuditEvent } from '../../event/types.js'
import type { EnqueueResult, QueueProducer } from '../queue.js'
import { QueueUnavailableError } from './errors.js'
import { RedisStreamsProducer } from './producer.js'
import type { ReplicaAcks } from './scripts.js'
import { registerShards, type QueueShard } from './shards.js'

export interface ShardedProducerOptions {
  redis: QueueRedis
  /** The configured layout (shards.ts); events only ever go to these. */
  shards: readonly QueueShard[]
  /** Per shard: the queue as a whole holds up to capEvents × shards. */
  capEvents?: number
  maxEventsPerCall?: number
  /** As RedisStreamsProducer's: off for a spill replay. */
  countOverflow?: boolean
  replicaAcks?: ReplicaAcks
}

/**
 * Spreads enqueues over the shards: each `enqueue` call goes whole to the next shard in turn (so a
 * call's events stay in order and one turn's calls still coalesce into one script call per shard).
 * What its shard refuses over the cap tries the other shards in turn, so producers overflow only
 * when every shard is full; only the last shard tried counts the refused events as `overflow`, so
 * each overflowing event is counted once. A shard that fails (its master down, too few replicas
 * confirming) passes its events to the next one; only when the last one tried fails does the
 * call fail, as the single producer's does, naming the events that were confirmed.
 */
export class ShardedProducer implements QueueProducer {
  /** Per shard: the producer that counts overflow, and the one that does not (for earlier tries). */
  private readonly counting: RedisStreamsProducer[]
  private readonly quiet: RedisStreamsProducer[]
  private next = 0
  private registered: Promise<void> | undefined

  constructor(private readonly options: ShardedProducerOptions) {
    const common = {
      redis: options.redis,
      ...(options.capEvents !== undefined ? { capEvents: options.capEvents } : {}),
      ...(options.maxEventsPerCall !== undefined ? { maxEventsPerCall: options.maxEventsPerCall } : {}),
      ...(options.replicaAcks ? { replicaAcks: options.replicaAcks } : {}),
    }
    this.counting = options.shards.map((shard) => new RedisStreamsProducer({ ...common, keys: shard.keys, countOverflow: options.countOverflow ?? true }))
    this.quiet = options.shards.map((shard) => new RedisStreamsProducer({ ...common, keys: shard.keys, countOverflow: false }))
  }

  /** Script calls sent so far over all shards. */
  get scriptCalls(): number {
    return [...this.counting, ...this.quiet].reduce((sum, producer) => sum + producer.scriptCalls, 0)
  }

  async enqueue(events: readonly AuditEvent[]): Promise<EnqueueResult> {
    this.register()
    const count = this.counting.length
    const first = this.next
    this.next = (this.next + 1) % count
    const enqueued: string[] = []
    let remaining = events
    let failure: QueueUnavailableError | undefined
    for (let tried = 0; tried < count && remaining.length > 0; tried++) {
      const shard = (first + tried) % count
      const producer = tried === count - 1 ? this.counting[shard]! : this.quiet[shard]!
      try {
        const result = await producer.enqueue(remaining)
        enqueued.push(...result.enqueued)
        remaining = result.overCap
        failure = undefined
      } catch (error) {
        if (!(error instanceof QueueUnavailableError)) throw error
        // This shard's master is down or short of replicas: the next shard takes the events.
        // Those it half-confirmed are sent again (a duplicate the store absorbs), never dropped.
        failure = error
        const confirmed = new Set(error.enqueued)
        enqueued.push(...error.enqueued)
        remaining = remaining.filter((event) => !confirmed.has(event.id))
      }
    }
    if (failure !== undefined) throw new QueueUnavailableError(failure.message, { cause: failure.cause, enqueued })
    return { enqueued, overCap: [...remaining] }
  }

  async close(): Promise<void> {
    await Promise.all([...this.counting, ...this.quiet].map((producer) => producer.close()))
  }

  /**
   * Names the layout's shards in the registry (so workers with another count drain them), until
   * that succeeds once. Alongside the enqueues, never before them: Redis being down must not
   * cost the events their spill path, and workers re-read the registry as they run.
   */
  private register(): void {
    if (this.registered !== undefined || this.options.shards.length < 2) return
    this.registered = registerShards(this.options.redis, this.options.shards).catch(() => {
      this.registered = undefined
    })
  }
}
