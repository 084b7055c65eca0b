import { Cluster } from 'ioredis'
import type { QueueRedis } from './connection.js'
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
/** An entry as the consumer reads it: bytes, so an event's payload reaches the store undecoded. */
export type RawBufferEntry = [id: Buffer, fields: Buffer[] | null]

/** Replicas that must confirm an enqueue (Redis `WAIT`), and how long to wait for them. */
export interface ReplicaAcks {
  replicas: number
  timeoutMs: number
}

/**
 * The master holds the events but too few replicas confirmed them: a failover now could lose them,
 * so they are not acknowledged. Sending them again (spill and replay) is safe: the store keeps one
 * copy per event id.
 */
export class ReplicaAckError extends Error {
  constructor(
    message: string,
    /** Events the master added before the WAIT came up short. */
    readonly addedOnMaster: number,
  ) {
    super(message)
    this.name = 'ReplicaAckError'
  }
}

/** Defines the scripts on a client (idempotent) and returns it typed with them. */
function withScripts(redis: QueueRedis): QueueRedis & ScriptCommands {
  const client = redis as QueueRedis & Partial<ScriptCommands>
  const scripts = loadLuaScripts()
  for (const name of SCRIPT_NAMES) {
    if (name in client) continue
    const script = scripts.get(name)
    if (script === undefined) throw new Error(`Lua script for ${name} is missing from the commands folder`)
    redis.defineCommand(name, { lua: script.lua, numberOfKeys: script.numberOfKeys })
  }
  return client as QueueRedis & ScriptCommands
}

export class QueueScripts {
  private readonly redis: QueueRedis & ScriptCommands

  constructor(
    redis: QueueRedis,
    private readonly keys: QueueKeys,
  ) {
    this.redis = withScripts(redis)
  }

  /**
   * Returns the entry ids of the payloads that fit, in order; the others are counted as overflow
   * unless `countOverflow` is false (a spill replay: its events overflowed once already).
   */
  async enqueueWithCap(payloads: readonly string[], options: { capEvents: number; countOverflow?: boolean; replicaAcks?: ReplicaAcks }): Promise<string[]> {
    const { events, counters } = this.keys
    const countOverflow = options.countOverflow ?? true
    const acks = options.replicaAcks
    if (!acks || acks.replicas === 0) {
      return (await this.redis.auditqEnqueueWithCap(events, counters, options.capEvents, countOverflow ? 1 : 0, ...payloads)) as string[]
    }
    // WAIT in the same pipeline as the script: a keyless command in a pipeline goes to the node
    // the script's keys live on (ioredis routes a Cluster pipeline by its keys' slot) and on the
    // same connection, so it waits for that master's replicas and covers exactly these writes.
    for (let attempt = 1; ; attempt++) {
      const pipeline = this.redis.pipeline() as unknown as Record<ScriptName, (...args: ScriptArg[]) => unknown> & {
        wait(replicas: number, timeoutMs: number): unknown
        exec(): Promise<[Error | null, unknown][] | null>
      }
      pipeline.auditqEnqueueWithCap(events, counters, options.capEvents, countOverflow ? 1 : 0, ...payloads)
      pipeline.wait(acks.replicas, acks.timeoutMs)
      const replies = await pipeline.exec()
      const [scriptError, entryIds] = replies?.[0] ?? [new Error('no reply to the enqueue'), null]
      if (scriptError) {
        // After a failover the client's slot map is stale. ioredis follows a redirect for a
        // pipeline only when every reply in it is one, and WAIT (keyless) answers normally, so
        // the redirect is ours to follow: refresh the map and send again (the script did not run).
        if (this.redis instanceof Cluster && isRedirect(scriptError) && attempt < 3) {
          await refreshSlots(this.redis)
          continue
        }
        throw scriptError
      }
      const [waitError, confirmed] = replies?.[1] ?? [new Error('no reply to WAIT'), 0]
      if (waitError) throw waitError
      if ((confirmed as number) < acks.replicas) {
        throw new ReplicaAckError(`only ${confirmed as number} of ${acks.replicas} replicas confirmed the enqueue within ${acks.timeoutMs} ms`, (entryIds as string[]).length)
      }
      return entryIds as string[]
    }
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
  ): Promise<{ nextCursor: string; entries: RawBufferEntry[] }> {
    // The Buffer variant ioredis defines beside every script: replies as bytes.
    const claim = (this.redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>).auditqClaimStaleBuffer!
    const reply = (await claim.call(this.redis, this.keys.events, this.keys.group, consumer, minIdleMs, cursor, count)) as [Buffer, RawBufferEntry[]]
    return { nextCursor: reply[0].toString('latin1'), entries: reply[1] }
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

/** MOVED or ASK: the slot lives on another node now (a failover or a resharding). */
function isRedirect(error: Error): boolean {
  return /^(MOVED|ASK) /.test(error.message)
}

function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()))
}
