import { duplicateClient, type QueueRedis } from './connection.js'
import type { QueueConsumer, QueueEntry } from '../queue.js'
import { decodeEntry, entryTimeMs, eventOfPrepared, payloadOf, UNDECODABLE } from './codec.js'
import type { AuditEvent } from '../../event/types.js'
import type { PreparedEvent } from '../../integrity/prepared-event.js'
import type { QueueKeys } from './keys.js'
import { QueueScripts, type RawBufferEntry } from './scripts.js'

export interface RedisStreamsConsumerOptions {
  /** Caller-owned connection for acks and bookkeeping; the consumer never closes it. */
  redis: QueueRedis
  keys: QueueKeys
  /**
   * This worker's name in the consumer group. Keep it stable across restarts (host + slot, not a
   * random id): a restarted worker then owns its old pending entries and reads them back first
   * (`recoverOwnPending`), without waiting for the idle timeout.
   */
  consumerName: string
  /**
   * Called when the consumer group has vanished, before it is recreated: that means the stream was
   * lost with every entry in it (see RedisResetWatch.groupVanished), which must not pass silently.
   */
  onGroupMissing?: () => Promise<void>
}

/** Entries per ack / dead-letter script call, so one script never holds Redis for long. */
const MAX_IDS_PER_CALL = 1_000

/**
 * The worker's side of the stream: XREADGROUP on a connection of its own (a blocked read would
 * otherwise hold every ack behind it), everything else on the shared one.
 */
export class RedisStreamsConsumer implements QueueConsumer {
  private readonly redis: QueueRedis
  private readonly blocking: QueueRedis
  private readonly keys: QueueKeys
  private readonly scripts: QueueScripts
  readonly consumerName: string
  private readonly onGroupMissing: (() => Promise<void>) | undefined
  /** XAUTOCLAIM position kept between calls, so repeated claims walk the whole pending list. */
  private claimCursor = '0-0'
  /** Position in this consumer's own pending list, for `recoverOwnPending`. */
  private ownCursor = '0'
  private closed = false

  private constructor(options: RedisStreamsConsumerOptions) {
    this.redis = options.redis
    this.keys = options.keys
    this.consumerName = options.consumerName
    this.onGroupMissing = options.onGroupMissing
    this.scripts = new QueueScripts(options.redis, options.keys)
    // Never auto-pipelined, even if the shared client is: nothing may queue behind a blocked read.
    this.blocking = duplicateClient(options.redis, { enableAutoPipelining: false, connectionName: `auditq-read-${options.consumerName}` })
    // Connection errors surface as failed reads, which the worker handles; without a listener
    // ioredis would also print each reconnect failure as an unhandled error.
    this.blocking.on('error', () => undefined)
  }

  /** Opens the blocking connection and makes sure the consumer group exists. */
  static async start(options: RedisStreamsConsumerOptions): Promise<RedisStreamsConsumer> {
    const consumer = new RedisStreamsConsumer(options)
    await consumer.ensureGroup()
    return consumer
  }

  async read(max: number, blockMs: number): Promise<QueueEntry[]> {
    try {
      return await this.readOnce(max, blockMs)
    } catch (error) {
      if (this.closed) return []
      // The stream (and its group) vanished: Redis restarted without persistence, or someone
      // deleted the key. Report it (the events in it are gone), then recreate the group and read
      // again rather than fail the worker. A failed report must not stop the worker recovering.
      if (!isNoGroup(error)) throw error
      await this.onGroupMissing?.().catch(() => undefined)
      await this.ensureGroup()
      return await this.readOnce(max, blockMs)
    }
  }

  async claimStale(minIdleMs: number, max: number): Promise<QueueEntry[]> {
    if (max <= 0) return []
    const claimed: QueueEntry[] = []
    const deleted: string[] = []
    const refused: Refused = new Map()
    // Stop after at most one full pass over the pending list (the cursor comes back to 0-0).
    do {
      const page = await this.scripts.claimStale(this.consumerName, minIdleMs, this.claimCursor, max - claimed.length)
      this.claimCursor = page.nextCursor
      for (const [id, fields] of page.entries) {
        const entryId = id.toString('latin1')
        if (fields === null) deleted.push(entryId)
        else collect(claimed, refused, entryId, payloadOf(fields))
      }
    } while (claimed.length < max && this.claimCursor !== '0-0')
    // Redis < 7 hands back pending entries whose payload was deleted: nothing to deliver, so ack.
    await this.scripts.ackAndDelete(deleted)
    await this.deadLetterRefused(refused)
    return claimed
  }

  /**
   * Entries this consumer name already owns: what a previous run of this worker read and never
   * acknowledged before it died. Reading them back (XREADGROUP from id 0, paged) lets a restarted
   * worker finish its own work at once instead of waiting `claimIdleMs` for XAUTOCLAIM. Returns []
   * once they have all been handed out.
   */
  async recoverOwnPending(max: number): Promise<QueueEntry[]> {
    if (max <= 0) return []
    const { group, events } = this.keys
    const reply = await this.redis.xreadgroupBuffer('GROUP', group, this.consumerName, 'COUNT', max, 'STREAMS', events, this.ownCursor)
    const raw = ((reply as [Buffer, RawBufferEntry[]][] | null)?.[0]?.[1] ?? []) as RawBufferEntry[]
    const entries: QueueEntry[] = []
    const deleted: string[] = []
    const refused: Refused = new Map()
    for (const [id, fields] of raw) {
      const entryId = id.toString('latin1')
      this.ownCursor = entryId
      if (fields === null) deleted.push(entryId)
      else collect(entries, refused, entryId, payloadOf(fields))
    }
    await this.scripts.ackAndDelete(deleted)
    await this.deadLetterRefused(refused)
    // A page of only deleted entries is not the end: ask again from the new cursor.
    if (entries.length === 0 && raw.length > 0) return this.recoverOwnPending(max)
    return entries
  }

  async ack(entryIds: readonly string[]): Promise<number> {
    let acked = 0
    for (const ids of chunks(entryIds)) acked += await this.scripts.ackAndDelete(ids)
    return acked
  }

  deadLetter(entries: readonly QueueEntry[], error: string): Promise<number> {
    return this.deadLetterIds(
      entries.map((entry) => entry.entryId),
      error,
    )
  }

  depth(): Promise<number> {
    return this.redis.xlen(this.keys.events)
  }

  async oldestAgeMs(): Promise<number> {
    // Redis' clock on both sides: entry ids carry Redis time, the worker's host may be skewed.
    const [time, oldest] = await Promise.all([this.redis.time(), this.redis.xrange(this.keys.events, '-', '+', 'COUNT', 1)])
    const first = oldest[0]
    if (first === undefined) return 0
    const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
    return Math.max(0, nowMs - entryTimeMs(first[0]))
  }

  /** Ends the blocking connection (a read in progress returns no entries); the shared one stays. */
  async close(): Promise<void> {
    this.closed = true
    this.blocking.disconnect()
  }

  private async ensureGroup(): Promise<void> {
    try {
      // From 0, not $: events enqueued before the first worker ever started must be delivered too.
      await this.redis.xgroup('CREATE', this.keys.events, this.keys.group, '0', 'MKSTREAM')
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error
    }
  }

  private async readOnce(max: number, blockMs: number): Promise<QueueEntry[]> {
    const { group, events } = this.keys
    // The typed methods, not `call`: under RESP3 (ioredis 6's default) `call` returns the
    // stream map flattened, the typed method the RESP2 shape [[key, entries]].
    // As bytes (the Buffer variant, same RESP2 shape): a payload is hashed and handed to the store
    // without being decoded to a string and encoded back (see codec.ts).
    const reply =
      blockMs > 0
        ? await this.blocking.xreadgroupBuffer('GROUP', group, this.consumerName, 'COUNT', max, 'BLOCK', blockMs, 'STREAMS', events, '>')
        : await this.blocking.xreadgroupBuffer('GROUP', group, this.consumerName, 'COUNT', max, 'STREAMS', events, '>')
    const entries: QueueEntry[] = []
    const refused: Refused = new Map()
    for (const [id, fields] of (reply as [Buffer, RawBufferEntry[]][] | null)?.[0]?.[1] ?? []) collect(entries, refused, id.toString('latin1'), payloadOf(fields))
    await this.deadLetterRefused(refused)
    return entries
  }

  /** Entries that are not events, or whose digest or form does not check out, leave for the DLQ with their reason. */
  private async deadLetterRefused(refused: Refused): Promise<void> {
    for (const [reason, ids] of refused) await this.deadLetterIds(ids, reason)
  }

  private async deadLetterIds(entryIds: readonly string[], error: string): Promise<number> {
    let moved = 0
    for (const ids of chunks(entryIds)) moved += await this.scripts.deadLetter(ids, error)
    return moved
  }
}

/** Entry ids refused on delivery, by reason. */
type Refused = Map<string, string[]>

/**
 * Delivers an entry, or sets it aside for the dead-letter queue with the reason it was refused.
 * Never JSON.parse for a prepared entry: its event is decoded only if something asks for it.
 */
function collect(into: QueueEntry[], refused: Refused, entryId: string, payload: Buffer | null): void {
  const decoded = payload === null ? ({ kind: 'refused', reason: UNDECODABLE } as const) : decodeEntry(payload)
  if (decoded.kind === 'event') into.push({ entryId, event: decoded.event })
  else if (decoded.kind === 'prepared') into.push(new PreparedEntry(entryId, decoded.prepared))
  else {
    const ids = refused.get(decoded.reason)
    if (ids) ids.push(entryId)
    else refused.set(decoded.reason, [entryId])
  }
}

class PreparedEntry implements QueueEntry {
  private decoded: AuditEvent | null | undefined

  constructor(
    readonly entryId: string,
    readonly prepared: PreparedEvent,
  ) {}

  get event(): AuditEvent | null {
    if (this.decoded === undefined) this.decoded = eventOfPrepared(this.prepared)
    return this.decoded
  }
}

function* chunks(ids: readonly string[]): Generator<readonly string[]> {
  for (let start = 0; start < ids.length; start += MAX_IDS_PER_CALL) yield ids.slice(start, start + MAX_IDS_PER_CALL)
}

function isNoGroup(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP')
}
