import { randomUUID } from 'node:crypto'
import type { QueueRedis } from './connection.js'
import type { Logger } from '../../util/logger.js'
import type { QueueKeys } from './keys.js'
import { QueueScripts } from './scripts.js'

/**
 * A loss of queued events that Redis itself caused: it restarted without the data (no persistence,
 * or a snapshot older than the queue), or the queue's keys were deleted under it (FLUSHDB). Every
 * event in the stream then was acknowledged to its caller and is gone.
 */
export interface RedisLoss {
  /** The identity Redis was given after the loss (or `group-<ms>` for a vanished consumer group). */
  id: string
  cause: 'restarted-empty' | 'keys-vanished' | 'group-vanished'
  /**
   * Best estimate of the events lost: the stream's length (undelivered + pending; acknowledged
   * entries are deleted) at the detecting process's last look before the loss. Events enqueued
   * after that look are not in it, so the true number can be higher, never lower by much.
   */
  eventsExposed: number
  /** When that last look was; null if the process never looked before (no estimate then: 0). */
  lastSeenAt: string | null
  detectedAt: string
  /** Which process noticed (host-pid or worker id). */
  detectedBy: string
  previousRunId: string | null
  runId: string | null
  /** The shard that lost its events, for shards other than the home one (see shards.ts). */
  shard?: string
}

export type ResetOutcome =
  | { kind: 'none' }
  /** Redis restarted (its run_id changed) and the queue's data survived it. */
  | { kind: 'restarted'; previousRunId: string; runId: string }
  | { kind: 'lost'; loss: RedisLoss }

export interface RedisResetWatchOptions {
  redis: QueueRedis
  keys: QueueKeys
  logger: Logger
  /** Names this process in the loss records. */
  source: string
  /** Each detection, once per process (the `auditq_queue_redis_resets_total` counter). */
  onReset?: (outcome: 'data_lost' | 'data_kept', loss?: RedisLoss) => void
}

/**
 * A consumer meets the vanished group on its next read, which may come after a look already found
 * the loss; within this long after a reported loss, a missing group is taken as part of it.
 */
const GROUP_LOSS_GRACE_MS = 60_000

interface Look {
  runId: string
  identity: string
  length: number
  at: number
}

/**
 * Notices when Redis has lost the queue, which would otherwise go unseen: the worker recreates the
 * consumer group, producers refill the stream, and every figure looks normal a few seconds later.
 *
 * How: the queue carries an identity key, a random id set once. Each `check()` reads it (creating
 * it when missing) with the stream's length, and Redis' `run_id` from INFO. Against this process's
 * previous look: a different identity means the key vanished, so everything with it did — a loss,
 * estimated at the length seen last; a different run_id with the same identity is a restart that
 * kept the data (logged, counted, no finding). The first look of a process has nothing to compare
 * with, so a loss while no auditq process was watching is not seen.
 *
 * Findings are kept in Redis (`losses`, so every process and `auditq status` see them and they
 * survive a service restart) and in the memory of every process that has seen them, which writes
 * them back if Redis loses them again. They stay until acknowledged (`acknowledgeLosses`).
 */
export class RedisResetWatch {
  private readonly scripts: QueueScripts
  private last: Look | undefined
  /** Unacknowledged losses this process has seen, written back to Redis if they vanish from it. */
  private readonly remembered = new Map<string, RedisLoss>()
  private checking: Promise<ResetOutcome> | undefined
  private lastLossAt: number | undefined
  readonly resets = { dataLost: 0, dataKept: 0 }

  constructor(private readonly options: RedisResetWatchOptions) {
    this.scripts = new QueueScripts(options.redis, options.keys)
  }

  /** One look; concurrent callers share it (a health flood must not pile up INFO calls). */
  check(): Promise<ResetOutcome> {
    this.checking ??= this.look().finally(() => {
      this.checking = undefined
    })
    return this.checking
  }

  /**
   * The consumer group vanished (NOGROUP): the stream was deleted or Redis restarted empty. Looks
   * first, so a restart is reported as such; otherwise records the stream's own loss.
   */
  async groupVanished(): Promise<void> {
    const before = this.last
    const outcome = await this.check()
    if (outcome.kind === 'lost') return
    // The group went with a loss already reported (a heartbeat's look came first): not a second one.
    if (this.lastLossAt !== undefined && Date.now() - this.lastLossAt < GROUP_LOSS_GRACE_MS) return
    await this.record({
      id: `group-${Date.now()}`,
      cause: 'group-vanished',
      eventsExposed: before?.length ?? 0,
      lastSeenAt: before ? new Date(before.at).toISOString() : null,
      detectedAt: new Date().toISOString(),
      detectedBy: this.options.source,
      previousRunId: before?.runId ?? null,
      runId: this.last?.runId ?? null,
    })
  }

  /** The unacknowledged losses this process holds, without asking Redis (which may be down). */
  known(): RedisLoss[] {
    return [...this.remembered.values()].sort((a, b) => a.detectedAt.localeCompare(b.detectedAt))
  }

  /** Unacknowledged losses: Redis' records merged with this process's copies (restored if Redis lost them). */
  async losses(): Promise<RedisLoss[]> {
    const { redis, keys } = this.options
    const [stored, acked] = await Promise.all([redis.hgetall(keys.losses), redis.smembers(keys.lossesAcked)])
    const ackedIds = new Set(acked)
    for (const [id, json] of Object.entries(stored)) {
      const loss = parseLoss(json)
      if (loss && !ackedIds.has(id)) this.remembered.set(id, higherEstimate(this.remembered.get(id), loss))
    }
    for (const [id, loss] of this.remembered) {
      if (ackedIds.has(id)) this.remembered.delete(id)
      else if (stored[id] === undefined) await redis.hset(keys.losses, id, JSON.stringify(loss))
    }
    return this.known()
  }

  private async look(): Promise<ResetOutcome> {
    // INFO may be refused (ACLs, renamed commands on managed Redis): the identity alone still
    // detects a loss; only telling a harmless restart apart needs the run_id.
    const [info, current] = await Promise.all([this.options.redis.info('server').catch(() => ''), this.scripts.identity(randomUUID())])
    const runId = /^run_id:(\S+)/m.exec(info)?.[1] ?? 'unknown'
    const previous = this.last
    this.last = { runId, identity: current.identity, length: current.length, at: Date.now() }
    if (previous === undefined) return { kind: 'none' }
    if (previous.identity !== current.identity) {
      const loss: RedisLoss = {
        id: current.identity,
        cause: previous.runId !== runId ? 'restarted-empty' : 'keys-vanished',
        eventsExposed: previous.length,
        lastSeenAt: new Date(previous.at).toISOString(),
        detectedAt: new Date().toISOString(),
        detectedBy: this.options.source,
        previousRunId: previous.runId,
        runId,
      }
      await this.record(loss)
      return { kind: 'lost', loss }
    }
    if (previous.runId !== runId) {
      this.resets.dataKept += 1
      this.options.onReset?.('data_kept')
      this.options.logger.info({ previous_run_id: previous.runId, run_id: runId }, 'redis restarted and kept the queue (its identity key survived)')
      return { kind: 'restarted', previousRunId: previous.runId, runId }
    }
    return { kind: 'none' }
  }

  private async record(loss: RedisLoss): Promise<void> {
    this.resets.dataLost += 1
    this.lastLossAt = Date.now()
    this.remembered.set(loss.id, loss)
    this.options.onReset?.('data_lost', loss)
    this.options.logger.error(
      { loss_id: loss.id, cause: loss.cause, events_exposed: loss.eventsExposed, last_seen_at: loss.lastSeenAt, previous_run_id: loss.previousRunId, run_id: loss.runId },
      `redis lost the queue (${CAUSE_TEXT[loss.cause]}): about ${loss.eventsExposed} acknowledged events were in it and are gone; acknowledge with \`auditq queue ack-loss\` once accounted for`,
    )
    // Several processes may detect the same loss: the record with the highest estimate wins.
    const { redis, keys } = this.options
    const existing = parseLoss((await redis.hget(keys.losses, loss.id)) ?? '')
    if (existing === null || existing.eventsExposed < loss.eventsExposed) await redis.hset(keys.losses, loss.id, JSON.stringify(loss))
  }
}

export const CAUSE_TEXT: Record<RedisLoss['cause'], string> = {
  'restarted-empty': 'Redis restarted without its data',
  'keys-vanished': "the queue's keys were deleted (FLUSHDB/FLUSHALL?)",
  'group-vanished': "the queue's stream and consumer group vanished",
}

/**
 * Acknowledges losses (an operator has accounted for them): removes them from Redis and marks them
 * acknowledged, so processes holding a copy drop it at their next look. Returns those removed.
 */
export async function acknowledgeLosses(redis: QueueRedis, keys: QueueKeys, ids: readonly string[] | 'all'): Promise<RedisLoss[]> {
  const stored = await redis.hgetall(keys.losses)
  const chosen = ids === 'all' ? Object.keys(stored) : ids.filter((id) => stored[id] !== undefined)
  if (chosen.length === 0) return []
  await redis.multi().hdel(keys.losses, ...chosen).sadd(keys.lossesAcked, ...chosen).exec()
  return chosen.flatMap((id) => {
    const loss = parseLoss(stored[id]!)
    return loss ? [loss] : []
  })
}

/** Unacknowledged losses as Redis holds them (for the CLI, which keeps no memory of its own). */
export async function readLosses(redis: QueueRedis, keys: QueueKeys): Promise<RedisLoss[]> {
  const stored = await redis.hgetall(keys.losses)
  return Object.values(stored)
    .flatMap((json) => parseLoss(json) ?? [])
    .sort((a, b) => a.detectedAt.localeCompare(b.detectedAt))
}

function parseLoss(json: string): RedisLoss | null {
  try {
    const value = JSON.parse(json) as RedisLoss
    return typeof value === 'object' && value !== null && typeof value.id === 'string' && typeof value.eventsExposed === 'number' ? value : null
  } catch {
    return null
  }
}

function higherEstimate(a: RedisLoss | undefined, b: RedisLoss): RedisLoss {
  return a !== undefined && a.eventsExposed >= b.eventsExposed ? a : b
}
