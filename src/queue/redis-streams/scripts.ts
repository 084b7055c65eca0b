import type { Redis } from 'ioredis'
import type { QueueKeys } from './keys.js'
import { ACK_AND_DELETE, CLAIM_STALE, DEAD_LETTER, DLQ_REPLAY, ENQUEUE_WITH_CAP, HEARTBEAT, IDENTITY } from './lua.js'

/**
 * The only caller of the Lua scripts (BullMQ's `scripts.ts`): typed functions over ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL once per connection on NOSCRIPT —
 * so a Redis restart that empties the script cache costs one extra send, not an error.
 */
const DEFINITIONS = {
  auditqEnqueueWithCap: { lua: ENQUEUE_WITH_CAP, numberOfKeys: 2 },
  auditqAckAndDelete: { lua: ACK_AND_DELETE, numberOfKeys: 1 },
  auditqClaimStale: { lua: CLAIM_STALE, numberOfKeys: 1 },
  auditqDeadLetter: { lua: DEAD_LETTER, numberOfKeys: 3 },
  auditqDlqReplay: { lua: DLQ_REPLAY, numberOfKeys: 3 },
  auditqHeartbeat: { lua: HEARTBEAT, numberOfKeys: 2 },
  auditqIdentity: { lua: IDENTITY, numberOfKeys: 2 },
} as const

type ScriptName = keyof typeof DEFINITIONS
type ScriptArg = string | number
type ScriptCommands = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>

export type RawEntry = [id: string, fields: string[] | null]

/** Defines the scripts on a client (idempotent) and returns it typed with them. */
function withScripts(redis: Redis): Redis & ScriptCommands {
  const client = redis as Redis & Partial<ScriptCommands>
  for (const [name, definition] of Object.entries(DEFINITIONS)) {
    if (!(name in client)) redis.defineCommand(name, definition)
  }
  return client as Redis & ScriptCommands
}

export class QueueScripts {
  private readonly redis: Redis & ScriptCommands

  constructor(
    redis: Redis,
    private readonly keys: QueueKeys,
  ) {
    this.redis = withScripts(redis)
  }

  /** Returns the entry ids of the payloads that fit, in order; the others were counted as overflow if `countOverflow`. */
  async enqueueWithCap(payloads: readonly string[], capEvents: number, countOverflow = true): Promise<string[]> {
    const { events, counters } = this.keys
    return (await this.redis.auditqEnqueueWithCap(events, counters, capEvents, countOverflow ? 1 : 0, ...payloads)) as string[]
  }

  async ackAndDelete(entryIds: readonly string[]): Promise<number> {
    if (entryIds.length === 0) return 0
    return (await this.redis.auditqAckAndDelete(this.keys.events, this.keys.group, ...entryIds)) as number
  }

  async claimStale(
    consumer: string,
    minIdleMs: number,
    cursor: string,
    count: number,
  ): Promise<{ nextCursor: string; entries: RawEntry[]; deliveryCounts: number[] }> {
    const reply = (await this.redis.auditqClaimStale(this.keys.events, this.keys.group, consumer, minIdleMs, cursor, count)) as [
      string,
      RawEntry[],
      number[],
    ]
    return { nextCursor: reply[0], entries: reply[1], deliveryCounts: reply[2] }
  }

  async deadLetter(entryIds: readonly string[], error: string): Promise<number> {
    if (entryIds.length === 0) return 0
    const { events, deadLetters, counters, group } = this.keys
    return (await this.redis.auditqDeadLetter(events, deadLetters, counters, group, error, ...entryIds)) as number
  }

  /** Returns the new main-stream entry id of each dead letter that was still there. */
  async replayDeadLetters(deadLetterIds: readonly string[]): Promise<Map<string, string>> {
    const moved = new Map<string, string>()
    if (deadLetterIds.length === 0) return moved
    const { deadLetters, events, counters } = this.keys
    const reply = (await this.redis.auditqDlqReplay(deadLetters, events, counters, ...deadLetterIds)) as string[]
    for (let i = 0; i + 1 < reply.length; i += 2) moved.set(reply[i]!, reply[i + 1]!)
    return moved
  }

  /** Returns the beat's time by Redis' clock (ms). */
  async heartbeat(workerId: string, figuresJson: string, ttlMs: number, retentionMs: number): Promise<number> {
    const { workers } = this.keys
    return (await this.redis.auditqHeartbeat(workers, this.keys.worker(workerId), workerId, figuresJson, ttlMs, retentionMs)) as number
  }

  /** The queue's identity (created as `candidate` if missing) and the stream's length, atomically. */
  async identity(candidate: string): Promise<{ identity: string; existed: boolean; length: number }> {
    const [identity, existed, length] = (await this.redis.auditqIdentity(this.keys.identity, this.keys.events, candidate)) as [string, number, number]
    return { identity, existed: existed === 1, length }
  }
}
