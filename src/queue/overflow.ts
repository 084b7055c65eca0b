import type { QueueRedis } from './redis-streams/connection.js'
import { CONFIG_DEFAULTS, type Config } from '../config.js'
import { AuditqError } from '../errors.js'
import type { EventOutcome } from '../event/intake.js'
import type { AuditEvent } from '../event/types.js'
import type { Logger } from '../util/logger.js'
import type { QueueProducer } from './queue.js'
import { QueueMonitor, RedisStreamsProducer, type QueueCounter, type QueueKeys } from './redis-streams/index.js'
import type { ReplicaAcks } from './redis-streams/scripts.js'
import { ShardedProducer } from './redis-streams/sharded-producer.js'
import type { QueueShard } from './redis-streams/shards.js'
import { errnoOf, type SpillJournal, type SpillStats } from './spill/index.js'
import { withDeadline } from '../util/deadline.js'

export type OverflowPolicy = Config['queue']['overflowPolicy']

/** The settings this queue follows; unset options take the `queue` section's defaults (src/config/intake.ts). */
type OverflowSettings = Pick<Config['queue'], 'overflowPolicy' | 'blockTimeoutMs' | 'replayEveryMs' | 'blockPollMs'>

/** The caller's running tallies this module adds to (the SDK's `LoggerStats` has these fields). */
export interface OverflowTally {
  /** Queue mode: events Redis accepted. */
  enqueued: number
  /** Queue mode: events that found the queue over its cap. */
  overflowed: number
  /** Queue mode: events that found Redis unreachable. */
  queueUnavailable: number
  /** Queue mode: events written to the local spill journal. */
  spilled: number
  /** Queue mode: spilled events moved back into the queue. */
  replayed: number
  /** Queue mode: events refused (policy drop, or the spill journal full/failed); their callers were told. */
  refused: number
}

export interface OverflowingQueueOptions {
  redis: QueueRedis
  /** A single-stream queue's keys; or `shards`, the layout of a sharded one (its home shard holds the shared counters). */
  keys?: QueueKeys
  shards?: readonly QueueShard[]
  /** Per shard. */
  capEvents?: number
  /** Replicas that must confirm an enqueue (`WAIT`) before its events count as accepted. */
  replicaAcks?: ReplicaAcks
  /** Open journal; closed by `close()`. */
  spill: SpillJournal
  overflowPolicy?: OverflowPolicy
  blockTimeoutMs?: number
  replayEveryMs?: number
  tally: OverflowTally
  logger: Logger
  /**
   * Told of every batch of events that did not go into the stream, and what became of them: the
   * service records it in the access trail (src/access/pause-trail.ts). Called on the caller's
   * turn: it must only count, never wait.
   */
  onDivert?: (divert: QueueDivert) => void
}

/** Why events did not go into the stream, and what became of them. */
export interface QueueDivert {
  cause: 'over_cap' | 'redis_unavailable'
  outcome: 'spilled' | 'refused'
  policy: OverflowPolicy
  events: number
  /** The refusal's code, for `refused`. */
  code?: string
}

type DivertCause = QueueDivert['cause']

/**
 * The producer side of queue mode with its buffers: an event goes into the Redis stream or, when
 * it cannot, follows the overflow policy — `spill` to the local journal (replayed into the stream
 * on a timer when there is room), `block` until there is room (then spill), or `drop` with
 * AUDITQ_QUEUE_FULL. Every path is counted; none is silent. Critical events never come here: the
 * intake sends them to the store.
 */
export class OverflowingQueue {
  private readonly producer: QueueProducer
  /** Moves spilled events back; does not count them as overflow again while the queue is full. */
  private readonly replayProducer: QueueProducer
  private readonly monitor: QueueMonitor
  private readonly spill: SpillJournal
  private readonly tally: OverflowTally
  private readonly log_: Logger
  private readonly settings: OverflowSettings
  private readonly onDivert: ((divert: QueueDivert) => void) | undefined
  private readonly replayTimer: NodeJS.Timeout
  private replaying: Promise<void> | undefined
  private readonly lastWarnedAt = new Map<string, number>()
  /** Shared-counter increments Redis has not taken yet (see countShared). */
  private readonly owedShared = new Map<QueueCounter, number>()
  /**
   * Small against the cap, so a batch fits as soon as workers have made some room; a batch near
   * the cap would only ever half-fit and resend its first half forever.
   */
  private readonly replayBatchSize: number

  constructor(options: OverflowingQueueOptions) {
    const { redis } = options
    const shards = options.shards ?? []
    const keys = shards[0]?.keys ?? options.keys
    if (keys === undefined) throw new AuditqError('AUDITQ_CONFIG', 'the overflowing queue needs keys or shards')
    const cap = { ...(options.capEvents ? { capEvents: options.capEvents } : {}), ...(options.replicaAcks ? { replicaAcks: options.replicaAcks } : {}) }
    // Spill replay, like the producers, spreads over the shards: any shard with room takes it.
    this.producer = shards.length > 1 ? new ShardedProducer({ redis, shards, ...cap }) : new RedisStreamsProducer({ redis, keys, ...cap })
    this.replayProducer = shards.length > 1 ? new ShardedProducer({ redis, shards, ...cap, countOverflow: false }) : new RedisStreamsProducer({ redis, keys, ...cap, countOverflow: false })
    this.monitor = new QueueMonitor(redis, keys)
    this.spill = options.spill
    this.tally = options.tally
    this.log_ = options.logger
    this.onDivert = options.onDivert
    const defaults = CONFIG_DEFAULTS.queue
    this.settings = {
      overflowPolicy: defaults.overflowPolicy,
      blockTimeoutMs: defaults.blockTimeoutMs,
      replayEveryMs: defaults.replayEveryMs,
      blockPollMs: defaults.blockPollMs,
      ...(options.overflowPolicy ? { overflowPolicy: options.overflowPolicy } : {}),
      ...(options.blockTimeoutMs !== undefined ? { blockTimeoutMs: options.blockTimeoutMs } : {}),
      ...(options.replayEveryMs ? { replayEveryMs: options.replayEveryMs } : {}),
    }
    // Per shard's cap: a replay batch goes to one shard (or, refused there, to the next).
    this.replayBatchSize = Math.max(1, Math.min(500, Math.floor((options.capEvents ?? defaults.capEvents) / 4)))
    this.replayTimer = setInterval(() => void this.replaySpill(), this.settings.replayEveryMs)
    this.replayTimer.unref()
  }

  /** Spilled events not yet back in the queue (for health and metrics). */
  spillStats(): SpillStats {
    return this.spill.stats()
  }

  /** Resolves with one outcome per event once each is in Redis or the journal, or refused. */
  async enqueue(events: AuditEvent[]): Promise<EventOutcome[]> {
    let overCap: AuditEvent[]
    try {
      const result = await this.producer.enqueue(events)
      this.tally.enqueued += result.enqueued.length
      overCap = result.overCap
      if (overCap.length === 0) return events.map(() => ({ ok: true }))
      this.tally.overflowed += overCap.length
      this.warnThrottled('overflow', { events: overCap.length, policy: this.settings.overflowPolicy, overflowed_total: this.tally.overflowed }, 'queue over its cap; applying the overflow policy')
    } catch (error) {
      this.warnThrottled('unavailable', { err_message: (error as Error).message, events: events.length, spilled_total: this.tally.spilled }, 'redis unavailable; spilling events to the local journal')
      this.tally.queueUnavailable += events.length
      // An enqueue that failed part-way may have added some events: re-adding them from the
      // journal later is harmless (the store is idempotent on id); losing them would not be.
      return this.divert(events, 'spill', 'redis_unavailable')
    }
    const outcomes = new Map<AuditEvent, EventOutcome>()
    const diverted = await this.divert(overCap, this.settings.overflowPolicy, 'over_cap')
    overCap.forEach((event, index) => outcomes.set(event, diverted[index]!))
    return events.map((event) => outcomes.get(event) ?? { ok: true })
  }

  /** Stops the replay timer, closes the producers and the journal; best effort for owed shared counts. */
  async close(): Promise<void> {
    clearInterval(this.replayTimer)
    await this.replaying
    await this.producer.close()
    await this.replayProducer.close()
    // Last chance for counts Redis could not take earlier; still owed after this, they are lost
    // with the process (counts only: every event itself is in the journal or in Redis). Bounded:
    // a caller's client with an offline queue would hold the commands while Redis is down.
    await withDeadline(this.flushShared(), 1_000)
    await this.spill.close()
  }

  /** Events that could not be queued follow the policy. */
  private async divert(events: AuditEvent[], policy: OverflowPolicy, cause: DivertCause): Promise<EventOutcome[]> {
    if (policy === 'drop') {
      this.tellDivert({ cause, outcome: 'refused', policy, events: events.length, code: 'AUDITQ_QUEUE_FULL' })
      return this.drop(events.length)
    }
    let pending = events
    if (policy === 'block') pending = await this.waitForRoom(pending)
    const spilled = await this.spillEvents(pending, cause === 'over_cap' ? 'the queue is over its cap' : 'redis is unavailable')
    if (pending.length > 0) {
      const refusal = spilled.find((outcome) => !outcome.ok)
      const code = refusal && !refusal.ok ? refusal.error.code : undefined
      this.tellDivert({ cause, outcome: code ? 'refused' : 'spilled', policy, events: pending.length, ...(code ? { code } : {}) })
    }
    return [...events.slice(0, events.length - pending.length).map((): EventOutcome => ({ ok: true })), ...spilled]
  }

  /** `block`: retries the queue until there is room or the timeout passes; returns what still did not fit. */
  private async waitForRoom(events: AuditEvent[]): Promise<AuditEvent[]> {
    const deadline = Date.now() + this.settings.blockTimeoutMs
    let remaining = events
    while (remaining.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.blockPollMs))
      try {
        const result = await this.producer.enqueue(remaining)
        this.tally.enqueued += result.enqueued.length
        remaining = result.overCap
      } catch {
        // Redis went away while waiting: stop waiting, the rest spills (counted there).
        break
      }
    }
    // The queued ones come first in the caller's order: keep order by returning the unqueued tail.
    return remaining
  }

  /**
   * Refusals carry the journal's own code: AUDITQ_SPILL_FULL (its size cap) or AUDITQ_SPILL_FAILED
   * (a write failed: ENOSPC, EIO…), whether Redis was down or over its cap, so the caller and the
   * operator see the real cause; AUDITQ_QUEUE_FULL is left for the drop policy.
   */
  private async spillEvents(events: AuditEvent[], why: string): Promise<EventOutcome[]> {
    if (events.length === 0) return []
    try {
      await this.spill.append(events)
      this.tally.spilled += events.length
      this.countShared('spilled', events.length)
      return events.map(() => ({ ok: true }))
    } catch (error) {
      this.tally.refused += events.length
      this.countShared('dropped', events.length)
      const code = error instanceof AuditqError && (error.code === 'AUDITQ_SPILL_FULL' || error.code === 'AUDITQ_CLOSED') ? error.code : 'AUDITQ_SPILL_FAILED'
      this.errorThrottled(`refused:${code}`, { err_message: (error as Error).message, code, errno: errnoOf(error), events: events.length, refused_total: this.tally.refused }, `${why} and the spill journal cannot take events; events refused`)
      const refusal = new AuditqError(code, `${why} and the event could not be spilled: ${(error as Error).message}`, { cause: error })
      return events.map(() => ({ ok: false, error: refusal }))
    }
  }

  /**
   * `drop`: for deployments that would rather refuse than buffer on local disk. The caller is told
   * (AUDITQ_QUEUE_FULL, retryable) and the refusal is counted and logged, so nothing goes silently.
   */
  private drop(count: number): EventOutcome[] {
    if (count === 0) return []
    this.tally.refused += count
    this.countShared('dropped', count)
    this.log_.warn({ events: count }, 'queue over its cap; events refused (overflow policy drop)')
    const refusal = new AuditqError('AUDITQ_QUEUE_FULL', 'the queue is over its cap (overflow policy: drop); the event was not accepted')
    return Array.from({ length: count }, () => ({ ok: false, error: refusal }))
  }

  /** The hook only counts; were it ever to throw, the events' outcomes must not change with it. */
  private tellDivert(divert: QueueDivert): void {
    try {
      this.onDivert?.(divert)
    } catch (error) {
      this.warnThrottled('divert-hook', { err_message: (error as Error).message }, 'recording a queue overflow failed')
    }
  }

  /**
   * Under sustained overflow or an outage every call would log; one line per kind per 10 s carries
   * the running totals instead, and every event is in the counters either way.
   */
  private warnThrottled(kind: string, fields: Record<string, unknown>, message: string): void {
    if (this.mayLog(kind)) this.log_.warn(fields, message)
  }

  private errorThrottled(kind: string, fields: Record<string, unknown>, message: string): void {
    if (this.mayLog(kind)) this.log_.error(fields, message)
  }

  private mayLog(kind: string): boolean {
    const now = Date.now()
    if (now - (this.lastWarnedAt.get(kind) ?? 0) < 10_000) return false
    this.lastWarnedAt.set(kind, now)
    return true
  }

  /**
   * Shared counters live in Redis. An increment Redis could not take (down, out of memory) stays
   * owed here and is added on a later attempt (each replay tick), so spills made during an outage
   * still reach the shared total — the total that must never fall behind what was replayed.
   */
  private countShared(counter: QueueCounter, by: number): void {
    this.owedShared.set(counter, (this.owedShared.get(counter) ?? 0) + by)
    void this.flushShared()
  }

  private flushShared(): Promise<unknown> {
    const calls: Promise<unknown>[] = []
    for (const [counter, owed] of this.owedShared) {
      if (owed === 0) continue
      // Taken before the call, given back if it fails: two flushes never send the same amount.
      this.owedShared.set(counter, 0)
      calls.push(this.monitor.incrementCounter(counter, owed).catch(() => this.owedShared.set(counter, (this.owedShared.get(counter) ?? 0) + owed)))
    }
    return Promise.all(calls)
  }

  /** Moves spilled events back into the queue while there is room; stops at the first refusal. */
  private replaySpill(): Promise<void> {
    void this.flushShared()
    this.reportSpillFaults()
    void this.spill.retryWrites().catch(() => undefined)
    if (this.replaying || this.spill.stats().events === 0) return this.replaying ?? Promise.resolve()
    this.replaying = (async () => {
      try {
        await this.spill.replay(
          async (events) => {
            const result = await this.replayProducer.enqueue(events)
            // A batch only counts as delivered whole: the part that fitted is sent again next
            // time (a duplicate the store absorbs), so it is counted when the batch completes.
            if (result.overCap.length > 0) throw new Error('queue still over its cap')
            this.tally.replayed += events.length
            this.countShared('replayed', events.length)
          },
          { batchSize: this.replayBatchSize },
        )
      } catch (error) {
        // A full queue or Redis being down pauses replay as designed (both are in health on their
        // own); a fault of the journal's disk is reported by reportSpillFaults, at error.
        this.log_.debug({ err_message: (error as Error).message }, 'spill replay paused')
      } finally {
        this.reportSpillFaults()
        this.replaying = undefined
      }
    })()
    return this.replaying
  }

  /** The journal's faults (also health findings), logged once per kind per 10 s while they last. */
  private reportSpillFaults(): void {
    const stats = this.spill.stats()
    if (stats.refusing) {
      this.errorThrottled('spill-refusing', { errno: stats.refusing.errno, err_message: stats.refusing.message, since: stats.refusing.since, attempts: stats.refusing.attempts }, 'spill journal cannot write: events that need spilling are refused until a write succeeds')
    }
    if (stats.replayFailing) {
      this.errorThrottled('spill-replay', { errno: stats.replayFailing.errno, err_message: stats.replayFailing.message, since: stats.replayFailing.since, waiting: stats.events }, 'spill replay stopped on a journal fault; spilled events wait until it is fixed')
    }
    if (stats.checkpointFailing) {
      this.warnThrottled('spill-checkpoint', { errno: stats.checkpointFailing.errno, err_message: stats.checkpointFailing.message, since: stats.checkpointFailing.since }, 'spill replay cannot record its position on disk; it goes on, but a restart would replay some events again')
    }
  }
}
