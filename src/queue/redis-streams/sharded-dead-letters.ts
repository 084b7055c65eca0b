import type { QueueRedis } from './connection.js'
import { AuditqError } from '../../errors.js'
import { DeadLetterQueue, type DeadLetter } from './dead-letters.js'
import type { QueueShard } from './shards.js'

/** A dead letter with the shard it waits in. */
export interface ShardDeadLetter extends DeadLetter {
  /** The shard's hash tag; its id carries it too (`<id>@<tag>`) except on the home shard. */
  shard: string
}

export interface ShardDeadLetterPage {
  deadLetters: ShardDeadLetter[]
  next?: string
}

/**
 * Every shard's dead-letter queue as one, for the DLQ tools. Ids name their shard: a home-shard
 * dead letter keeps its plain stream id (so one shard reads exactly as before), others read
 * `<stream id>@<shard tag>`. Replay moves a dead letter back into its own shard: the script that
 * does it atomically may only touch that shard's keys.
 *
 * Listing merges the shards oldest first, ties broken by shard position, and a page's `next` is the
 * last id shown: each shard resumes after it (exclusive where the order puts that shard at or
 * before the id's own, inclusive after), so paging neither skips nor repeats across shards.
 */
export class ShardedDeadLetters {
  private readonly queues: { shard: QueueShard; queue: DeadLetterQueue }[]

  constructor(redis: QueueRedis, shards: readonly QueueShard[]) {
    this.queues = shards.map((shard) => ({ shard, queue: new DeadLetterQueue(redis, shard.keys) }))
  }

  async size(): Promise<number> {
    const sizes = await Promise.all(this.queues.map(({ queue }) => queue.size()))
    return sizes.reduce((sum, size) => sum + size, 0)
  }

  /** Per shard, for status output. */
  async sizes(): Promise<{ shard: string; size: number }[]> {
    return Promise.all(this.queues.map(async ({ shard, queue }) => ({ shard: shard.tag, size: await queue.size() })))
  }

  async list(page: { limit: number; after?: string }): Promise<ShardDeadLetterPage> {
    const after = page.after === undefined ? undefined : this.parse(page.after)
    const fetched = await Promise.all(
      this.queues.map(async ({ shard, queue }, position) => {
        let letters: DeadLetter[]
        if (after === undefined) letters = (await queue.list({ limit: page.limit + 1 })).deadLetters
        else if (position <= after.position) letters = (await queue.list({ limit: page.limit + 1, after: after.id })).deadLetters
        else letters = (await queue.listFrom(after.id, page.limit + 1)).deadLetters
        return letters.map((letter) => ({ letter, position, shard }))
      }),
    )
    const merged = fetched.flat().sort((a, b) => compareIds(a.letter.id, b.letter.id) || a.position - b.position)
    const shown = merged.slice(0, page.limit).map(({ letter, shard }) => this.named(shard, letter))
    const last = shown[shown.length - 1]
    return merged.length > page.limit && last !== undefined ? { deadLetters: shown, next: last.id } : { deadLetters: shown }
  }

  async get(id: string): Promise<ShardDeadLetter | null> {
    const { position, id: streamId } = this.parse(id)
    const { shard, queue } = this.queues[position]!
    const letter = await queue.get(streamId)
    return letter === null ? null : this.named(shard, letter)
  }

  /** Moves dead letters back into their own shards' streams. Returns dead-letter id → new entry id. */
  async replay(ids: readonly string[]): Promise<Map<string, string>> {
    const moved = new Map<string, string>()
    for (const [position, streamIds] of this.byShard(ids)) {
      const { shard, queue } = this.queues[position]!
      for (const [from, to] of await queue.replay(streamIds)) moved.set(this.composite(shard, from), to)
    }
    return moved
  }

  async purge(ids: readonly string[]): Promise<number> {
    let purged = 0
    for (const [position, streamIds] of this.byShard(ids)) purged += await this.queues[position]!.queue.purge(streamIds)
    return purged
  }

  async purgeAll(): Promise<number> {
    const purged = await Promise.all(this.queues.map(({ queue }) => queue.purgeAll()))
    return purged.reduce((sum, count) => sum + count, 0)
  }

  private named(shard: QueueShard, letter: DeadLetter): ShardDeadLetter {
    return { ...letter, id: this.composite(shard, letter.id), shard: shard.tag }
  }

  private composite(shard: QueueShard, id: string): string {
    return shard.index === 0 ? id : `${id}@${shard.tag}`
  }

  private parse(id: string): { position: number; id: string } {
    const at = id.indexOf('@')
    if (at === -1) return { position: 0, id }
    const tag = id.slice(at + 1)
    const position = this.queues.findIndex(({ shard }) => shard.tag === tag)
    if (position === -1) throw new AuditqError('AUDITQ_NOT_FOUND', `dead-letter id ${id} names shard ${JSON.stringify(tag)}, which this queue does not have`)
    return { position, id: id.slice(0, at) }
  }

  private byShard(ids: readonly string[]): Map<number, string[]> {
    const groups = new Map<number, string[]>()
    for (const id of ids) {
      const { position, id: streamId } = this.parse(id)
      groups.set(position, [...(groups.get(position) ?? []), streamId])
    }
    return groups
  }
}

/** Stream ids `<ms>-<seq>` in stream order. */
function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number]
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number]
  return aMs - bMs || aSeq - bSeq
}
