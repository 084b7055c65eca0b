import type { QueueRedis } from './connection.js'
import type { Logger } from '../../util/logger.js'
import { acknowledgeLosses, readLosses, RedisResetWatch, type RedisLoss } from './reset-watch.js'
import type { QueueShard } from './shards.js'

/** What the runtime, the health reading and the service need of a reset watch, one shard or many. */
export interface QueueResetWatch {
  check(): Promise<unknown>
  /** `shard`: whose group vanished; the home shard when absent. */
  groupVanished(shard?: QueueShard): Promise<void>
  known(): RedisLoss[]
  losses(): Promise<RedisLoss[]>
}

export interface ShardedResetWatchOptions {
  redis: QueueRedis
  shards: readonly QueueShard[]
  logger: Logger
  source: string
  onReset?: (outcome: 'data_lost' | 'data_kept', loss?: RedisLoss) => void
}

/**
 * One RedisResetWatch per shard: each shard has its own identity key on its own master, so a
 * master that restarts empty (or fails over to a replica that had not caught up) loses that shard
 * alone, and is reported as such. Loss records stay in their shard's keys; those of shards other
 * than the home one name it (`shard`).
 */
export class ShardedResetWatch implements QueueResetWatch {
  private readonly watches = new Map<string, RedisResetWatch>()

  constructor(private readonly options: ShardedResetWatchOptions) {
    for (const shard of options.shards) this.watchOf(shard)
  }

  async check(): Promise<unknown> {
    return Promise.all([...this.watches.values()].map((watch) => watch.check()))
  }

  groupVanished(shard?: QueueShard): Promise<void> {
    return this.watchOf(shard ?? this.options.shards[0]!).groupVanished()
  }

  known(): RedisLoss[] {
    return sortLosses([...this.watches.entries()].flatMap(([tag, watch]) => watch.known().map((loss) => this.named(tag, loss))))
  }

  async losses(): Promise<RedisLoss[]> {
    const all = await Promise.all([...this.watches.entries()].map(async ([tag, watch]) => (await watch.losses()).map((loss) => this.named(tag, loss))))
    return sortLosses(all.flat())
  }

  private watchOf(shard: QueueShard): RedisResetWatch {
    let watch = this.watches.get(shard.tag)
    if (watch === undefined) {
      const { redis, logger, source, onReset } = this.options
      watch = new RedisResetWatch({ redis, keys: shard.keys, logger: logger.child({ shard: shard.tag }), source, ...(onReset ? { onReset } : {}) })
      this.watches.set(shard.tag, watch)
    }
    return watch
  }

  private named(tag: string, loss: RedisLoss): RedisLoss {
    return tag === this.options.shards[0]!.tag ? loss : { ...loss, shard: tag }
  }
}

/** Every shard's unacknowledged losses (for the CLI and status without a watch). */
export async function readShardLosses(redis: QueueRedis, shards: readonly QueueShard[]): Promise<RedisLoss[]> {
  const all = await Promise.all(shards.map(async (shard) => (await readLosses(redis, shard.keys)).map((loss) => (shard.index === 0 ? loss : { ...loss, shard: shard.tag }))))
  return sortLosses(all.flat())
}

/** Acknowledges losses in whichever shard records them. */
export async function acknowledgeShardLosses(redis: QueueRedis, shards: readonly QueueShard[], ids: readonly string[] | 'all'): Promise<RedisLoss[]> {
  const all = await Promise.all(shards.map(async (shard) => (await acknowledgeLosses(redis, shard.keys, ids)).map((loss) => (shard.index === 0 ? loss : { ...loss, shard: shard.tag }))))
  return all.flat()
}

function sortLosses(losses: RedisLoss[]): RedisLoss[] {
  return losses.sort((a, b) => a.detectedAt.localeCompare(b.detectedAt))
}
