import type { QueueRedis } from './connection.js'
import type { AuditEvent } from '../../event/types.js'
import { decodeEvent, entryTimeMs } from './codec.js'
import type { QueueKeys } from './keys.js'
import { QueueScripts, type RawEntry } from './scripts.js'

/** One event that failed on its own, as `auditq dlq list | show` will print it. */
export interface DeadLetter {
  /** Id in the dead-letter stream; `get`, `replay` and `purge` take it. */
  id: string
  /** The entry's id in the main stream when it was dead-lettered. */
  sourceEntryId: string
  /** Null when the payload is not an event (kept verbatim in `payload`, so nothing is lost). */
  event: AuditEvent | null
  payload: string
  error: string
  /** Deliveries before it was dead-lettered (0 if it was never read). */
  attempts: number
  deadLetteredAt: string
}

export interface DeadLetterPage {
  deadLetters: DeadLetter[]
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string
}

/**
 * The dead-letter queue: a stream of its own, oldest first. Entries arrive only through the
 * dead-letter script and leave through replay (atomic move back) or purge; nothing trims it, so
 * a dead letter waits for an operator however long that takes — `readCounters().dead_lettered`
 * and `size()` are what an alert should watch.
 */
export class DeadLetterQueue {
  private readonly scripts: QueueScripts

  constructor(
    private readonly redis: QueueRedis,
    private readonly keys: QueueKeys,
  ) {
    this.scripts = new QueueScripts(redis, keys)
  }

  size(): Promise<number> {
    return this.redis.xlen(this.keys.deadLetters)
  }

  /** Oldest first; `after` is the `next` of the previous page. */
  async list(page: { limit: number; after?: string }): Promise<DeadLetterPage> {
    // `(id` is an exclusive start (Redis 6.2+): the page resumes right after the last one seen.
    const start = page.after === undefined ? '-' : `(${page.after}`
    // One extra entry tells whether another page exists without a second round trip.
    const raw = (await this.redis.xrange(this.keys.deadLetters, start, '+', 'COUNT', page.limit + 1)) as RawEntry[]
    const deadLetters = raw.slice(0, page.limit).map(toDeadLetter)
    const last = deadLetters[deadLetters.length - 1]
    return raw.length > page.limit && last !== undefined ? { deadLetters, next: last.id } : { deadLetters }
  }

  /** Oldest first from `from` itself (inclusive), for listings that merge several shards. */
  async listFrom(from: string, limit: number): Promise<DeadLetterPage> {
    const raw = (await this.redis.xrange(this.keys.deadLetters, from, '+', 'COUNT', limit)) as RawEntry[]
    return { deadLetters: raw.map(toDeadLetter) }
  }

  async get(id: string): Promise<DeadLetter | null> {
    const raw = (await this.redis.xrange(this.keys.deadLetters, id, id)) as RawEntry[]
    return raw[0] === undefined ? null : toDeadLetter(raw[0])
  }

  /**
   * Moves dead letters back to the main stream, atomically each, as fresh entries (delivery count
   * starts again). Returns dead-letter id → new entry id for those that were still there.
   */
  replay(ids: readonly string[]): Promise<Map<string, string>> {
    return this.scripts.replayDeadLetters(ids)
  }

  /** Deletes the given dead letters for good. Returns how many existed. */
  purge(ids: readonly string[]): Promise<number> {
    return ids.length === 0 ? Promise.resolve(0) : this.redis.xdel(this.keys.deadLetters, ...ids)
  }

  /**
   * Deletes every dead letter. Returns how many there were (read and deleted in one MULTI). It
   * records nothing: `auditq dlq purge` pages through `list` and `purge` instead, recording each
   * page's producer numbers first (src/cli/dlq-purge.ts).
   */
  async purgeAll(): Promise<number> {
    const replies = await this.redis.multi().xlen(this.keys.deadLetters).del(this.keys.deadLetters).exec()
    const [error, length] = replies?.[0] ?? [new Error('purgeAll: transaction aborted'), 0]
    if (error) throw error
    return Number(length)
  }
}

function toDeadLetter([id, fields]: RawEntry): DeadLetter {
  const values = new Map<string, string>()
  const list = fields ?? []
  for (let i = 0; i + 1 < list.length; i += 2) values.set(list[i]!, list[i + 1]!)
  const payload = values.get('event') ?? ''
  return {
    id,
    sourceEntryId: values.get('source') ?? '',
    event: decodeEvent(payload),
    payload,
    error: values.get('error') ?? '',
    attempts: Number(values.get('attempts') ?? 0),
    deadLetteredAt: new Date(entryTimeMs(id)).toISOString(),
  }
}
