import type { QueueRedis } from './connection.js'
import type { QueueConsumer, QueueEntry } from '../queue.js'
import { RedisStreamsConsumer } from './consumer.js'
import { knownShards, type QueueShard } from './shards.js'

export interface ShardedConsumerOptions {
  redis: QueueRedis
  /** The configured layout; shards in the registry beyond it are drained too. */
  layout: readonly QueueShard[]
  consumerName: string
  /** Called with the shard whose consumer group vanished (see RedisStreamsConsumer). */
  onGroupMissing?: (shard: QueueShard) => Promise<void>
}

interface ShardReader {
  shard: QueueShard
  consumer: RedisStreamsConsumer
  /** A read under way on this shard's blocking connection, kept across calls (see `read`). */
  reading: Promise<ReadOutcome> | undefined
  outcome: ReadOutcome | undefined
  /** `recoverOwnPending` found nothing more on this shard. */
  recovered: boolean
  /** Reads failed in a row (its master down, the cluster failing it over); 0 when healthy. */
  failures: number
  /** No new read on this shard before this time (ms), so a dead master is not hammered. */
  retryAt: number
  lastError: unknown
}

/** Longest pause before a failing shard is read again; the worker's own backoff has the same cap. */
const SHARD_RETRY_MAX_MS = 5_000

type ReadOutcome = { entries: QueueEntry[] } | { error: unknown }

/**
 * One consumer per shard behind the single-consumer interface, so the worker's loop (buffer,
 * write, ack after commit, claim, recover) is the same for one shard or many. Entry ids carry
 * their shard (`<position>|<stream id>`) so acks and dead letters go back to the shard they came
 * from, which is the only one their scripts may touch.
 *
 * A blocked XREADGROUP cannot span shards on a cluster (their keys are in different slots), so
 * each shard has its own blocking read; `read` returns what the first answers bring and keeps the
 * others under way for the next call. An entry a read delivered is pending to this consumer
 * whatever happens next, so abandoning a read would only delay it until claimed: keeping it is
 * what keeps a quiet shard's latency at one read.
 */
export class ShardedConsumer implements QueueConsumer {
  private readers: ShardReader[] = []

  private constructor(private readonly options: ShardedConsumerOptions) {}

  static async start(options: ShardedConsumerOptions): Promise<ShardedConsumer> {
    const consumer = new ShardedConsumer(options)
    await consumer.refreshShards()
    return consumer
  }

  /** The shards consumed now: the layout, then registry-only shards being drained. */
  get shards(): QueueShard[] {
    return this.readers.map((reader) => reader.shard)
  }

  /**
   * Adds a consumer for every shard the registry names that is not consumed yet: a producer with
   * a higher count, or a count lowered since events went in. Called at start and on every claim
   * round, so a worker picks such shards up while it runs.
   */
  async refreshShards(): Promise<void> {
    const shards = await knownShards(this.options.redis, this.options.layout)
    for (const shard of shards) {
      if (this.readers.some((reader) => reader.shard.tag === shard.tag)) continue
      const consumer = await RedisStreamsConsumer.start({
        redis: this.options.redis,
        keys: shard.keys,
        consumerName: this.options.consumerName,
        ...(this.options.onGroupMissing ? { onGroupMissing: () => this.options.onGroupMissing!(shard) } : {}),
      })
      this.readers.push({ shard: { ...shard, index: this.readers.length }, consumer, reading: undefined, outcome: undefined, recovered: false, failures: 0, retryAt: 0, lastError: undefined })
    }
  }

  async read(max: number, blockMs: number): Promise<QueueEntry[]> {
    const now = Date.now()
    for (const reader of this.readers) {
      if (reader.reading !== undefined || reader.outcome !== undefined || reader.retryAt > now) continue
      // Shards beyond the layout only drain: they get no new events, so they are polled, not waited on.
      const block = reader.shard.current ? blockMs : 0
      const reading = reader.consumer.read(max, block).then(
        (entries): ReadOutcome => ({ entries }),
        (error: unknown): ReadOutcome => ({ error }),
      )
      reader.reading = reading
      void reading.then((outcome) => {
        reader.outcome = outcome
        reader.reading = undefined
      })
    }
    // The caller's block is a deadline for this call, whatever reads earlier calls left under way:
    // a worker with a part-filled buffer asks for a short wait so that its flush is not late.
    const deadline = Date.now() + blockMs
    for (;;) {
      const settled = this.readers.filter((reader) => reader.outcome !== undefined)
      const entries: QueueEntry[] = []
      for (const reader of settled) {
        const outcome = reader.outcome!
        reader.outcome = undefined
        if ('error' in outcome) this.failed(reader, outcome.error)
        else {
          reader.failures = 0
          for (const entry of outcome.entries) entries.push(this.tagged(reader, entry))
        }
      }
      if (entries.length > 0) return entries
      // A failing shard must not stall the healthy ones: the worker hears of it (and backs off)
      // only when no shard can be read at all.
      this.throwIfAllFailing()
      const waiting = this.readers.flatMap((reader) => (reader.reading ? [reader.reading] : []))
      // A blocking read that answered empty waited its full time: nothing this round. Empty polls
      // of draining shards do not end the wait, or the worker would poll them in a tight loop.
      if (settled.some((reader) => reader.shard.current && reader.failures === 0) || waiting.length === 0) return []
      const left = deadline - Date.now()
      if (left <= 0) return []
      let timer: NodeJS.Timeout | undefined
      await Promise.race([...waiting, new Promise((resolve) => (timer = setTimeout(resolve, left)))])
      clearTimeout(timer)
      // Let each settled read's bookkeeping run before looking.
      await Promise.resolve()
    }
  }

  /**
   * Shard by shard. A shard that cannot be read now is left to the claims: its own pending entries
   * go idle and XAUTOCLAIM hands them back once it answers again.
   */
  async recoverOwnPending(max: number): Promise<QueueEntry[]> {
    let failed = 0
    let firstError: unknown
    for (const reader of this.readers) {
      if (reader.recovered) continue
      try {
        const entries = await reader.consumer.recoverOwnPending(max)
        if (entries.length > 0) return entries.map((entry) => this.tagged(reader, entry))
        reader.recovered = true
      } catch (error) {
        failed += 1
        firstError ??= error
      }
    }
    // No shard answered at all: the worker backs off and asks again, as with one shard.
    if (failed > 0 && failed === this.readers.length) throw firstError
    return []
  }

  async claimStale(minIdleMs: number, max: number): Promise<QueueEntry[]> {
    // Registry changes come in here: claims run every `claimEveryMs`, often enough and cheap. The
    // registry lives on the home shard: with its master down the other shards still get claimed.
    await this.refreshShards().catch(() => undefined)
    const claimed: QueueEntry[] = []
    let error: unknown
    for (const reader of this.readers) {
      if (claimed.length >= max) break
      try {
        for (const entry of await reader.consumer.claimStale(minIdleMs, max - claimed.length)) claimed.push(this.tagged(reader, entry))
      } catch (cause) {
        error ??= cause
        this.failed(reader, cause)
      }
    }
    if (claimed.length === 0 && error !== undefined && this.readers.every((reader) => reader.failures > 0)) throw error
    return claimed
  }

  async ack(entryIds: readonly string[]): Promise<number> {
    const acked = await Promise.all([...this.byShard(entryIds.map((entryId) => ({ entryId })))].map(([reader, entries]) => reader.consumer.ack(entries.map((entry) => entry.entryId))))
    return acked.reduce((sum, count) => sum + count, 0)
  }

  async deadLetter(entries: readonly QueueEntry[], error: string): Promise<number> {
    const moved = await Promise.all([...this.byShard(entries)].map(([reader, own]) => reader.consumer.deadLetter(own, error)))
    return moved.reduce((sum, count) => sum + count, 0)
  }

  /** Over the shards that answer; fails only when none does (one dead master must not stop the worker). */
  async depth(): Promise<number> {
    const depths = await this.overAnswering((consumer) => consumer.depth())
    return depths.reduce((sum, depth) => sum + depth, 0)
  }

  async oldestAgeMs(): Promise<number> {
    const ages = await this.overAnswering((consumer) => consumer.oldestAgeMs())
    return Math.max(0, ...ages)
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((reader) => reader.consumer.close()))
  }

  private async overAnswering<T>(ask: (consumer: RedisStreamsConsumer) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(this.readers.map((reader) => ask(reader.consumer)))
    const answered = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    const failure = results.find((result) => result.status === 'rejected')
    if (answered.length === 0 && failure !== undefined) throw failure.reason
    return answered
  }

  private failed(reader: ShardReader, error: unknown): void {
    reader.failures += 1
    reader.lastError = error
    reader.retryAt = Date.now() + Math.min(SHARD_RETRY_MAX_MS, 100 * 2 ** Math.min(reader.failures - 1, 6))
  }

  /** Every shard in the layout is failing, none being retried: the worker should know, log and back off. */
  private throwIfAllFailing(): void {
    const current = this.readers.filter((reader) => reader.shard.current)
    // A read under way on a failing shard may be the one that finds it back: wait for it instead.
    if (current.length > 0 && current.every((reader) => reader.failures > 0 && reader.reading === undefined)) throw current[0]!.lastError
  }

  private tagged(reader: ShardReader, entry: QueueEntry): QueueEntry {
    return { entryId: `${reader.shard.index}|${entry.entryId}`, event: entry.event }
  }

  /** Groups entries by the shard their id names, with the shard's own stream ids. */
  private byShard<T extends { entryId: string }>(entries: readonly T[]): Map<ShardReader, T[]> {
    const groups = new Map<ShardReader, T[]>()
    for (const entry of entries) {
      const bar = entry.entryId.indexOf('|')
      const reader = this.readers[Number(entry.entryId.slice(0, bar))]
      if (bar < 1 || reader === undefined) throw new Error(`entry id ${entry.entryId} names no shard of this consumer`)
      const group = groups.get(reader) ?? []
      group.push({ ...entry, entryId: entry.entryId.slice(bar + 1) })
      groups.set(reader, group)
    }
    return groups
  }
}
