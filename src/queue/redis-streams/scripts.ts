import type { Redis } from 'ioredis'
import type { QueueKeys } from './keys.js'
import { loadLuaScripts } from './lua.js'

/**
 * The only caller of the Lua scripts (BullMQ's `scripts.ts`): typed functions over ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL once per connection on NOSCRIPT —
 * so a Redis restart that empties the script cache costs one extra send, not an error.
 *
 * SCRIPT_NAMES lists the scripts this file calls; `lua.test.ts` checks each has its `.lua` file
 * and that every `.lua` file is one of them.
 */
export const SCRIPT_NAMES = [
  'auditqEnqueueWithCap',
  'auditqAckAndDelete',
  'auditqClaimStale',
  'auditqDeadLetter',
  'auditqDlqReplay',
  'auditqHeartbeat',
  'auditqIdentity',
] as const

type ScriptName = (typeof SCRIPT_NAMES)[number]
type ScriptArg = string | number
type ScriptCommands = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>

export type RawEntry = [id: string, fields: string[] | null]

/** Defines the scripts on a client (idempotent) and returns it typed with them. */
function withScripts(redis: Redis): Redis & ScriptCommands {
  const client = redis as Redis & Partial<ScriptCommands>
  const scripts = loadLuaScripts()
  for (const name of SCRIPT_NAMES) {
    if (name in client) continue
    const script = scripts.get(name)
    if (script === undefined) throw new Error(`Lua script for ${name} is missing from the commands folder`)
    redis.defineCommand(name, { lua: script.lua, numberOfKeys: script.numberOfKeys })
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

  /**
   * Returns the entry ids of the payloads that fit, in order; the others are counted as overflow
   * unless `countOverflow` is false (a spill replay: its events overflowed once already).
   */
  async enqueueWithCap(payloads: readonly string[], options: { capEvents: number; countOverflow?: boolean }): Promise<string[]> {
    const { events, counters } = this.keys
    const countOverflow = options.countOverflow ?? true
    return (await this.redis.auditqEnqueueWithCap(events, counters, options.capEvents, countOverflow ? 1 : 0, ...payloads)) as string[]
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
  ): Promise<{ nextCursor: string; entries: RawEntry[] }> {
    const reply = (await this.redis.auditqClaimStale(this.keys.events, this.keys.group, consumer, minIdleMs, cursor, count)) as [string, RawEntry[]]
    return { nextCursor: reply[0], entries: reply[1] }
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
