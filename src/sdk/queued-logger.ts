import { join, resolve } from 'node:path'
import type { Redis } from 'ioredis'
import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'
import type { QueueProducer } from '../queue/queue.js'
import { connectRedis, DEFAULT_CAP_EVENTS, QueueMonitor, queueKeys, RedisStreamsProducer, type QueueCounter } from '../queue/redis-streams/index.js'
import { errnoOf, SpillJournal } from '../queue/spill/index.js'
import type { EventOutcome } from '../store/isolating-insert.js'
import type { Store } from '../store/store.js'
import { BaseAuditLogger, type AuditLoggerOptions } from './audit-logger.js'
import { DEFAULT_GROUP_COMMIT } from './direct-logger.js'
import { GroupCommitter } from './group-commit.js'

export type OverflowPolicy = 'spill' | 'block' | 'drop'

export interface QueueModeOptions {
  /** Use this client instead of connecting to `redisUrl` (the logger will not close it). */
  redis?: Redis
  prefix?: string
  name?: string
  capEvents?: number
  overflowPolicy?: OverflowPolicy
  blockTimeoutMs?: number
  /** Spill journal directory (default `<dataDir>/spill`). */
  spillDir?: string
  spillMaxBytes?: number
  replayEveryMs?: number
  /** Commands that get no answer within this are treated as "Redis unavailable" (events spill). */
  redisCommandTimeoutMs?: number
}

const DEFAULTS = {
  overflowPolicy: 'spill' as OverflowPolicy,
  blockTimeoutMs: 5_000,
  replayEveryMs: 1_000,
  redisCommandTimeoutMs: 2_000,
  /** Poll interval while `block` waits for room. */
  blockPollMs: 25,
}

export async function createQueuedAuditLogger(store: Store, ownsStore: boolean, options: AuditLoggerOptions): Promise<QueuedAuditLogger> {
  const queue = options.queue ?? {}
  const ownsRedis = queue.redis === undefined
  if (!queue.redis && !options.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'queue mode needs redisUrl or queue.redis')
  // No offline queue and a command timeout: when Redis is down, a call fails fast and the event
  // spills, instead of the request hanging while ioredis reconnects.
  const redis =
    queue.redis ??
    connectRedis(options.redisUrl!, {
      enableOfflineQueue: false,
      commandTimeout: queue.redisCommandTimeoutMs ?? DEFAULTS.redisCommandTimeoutMs,
      maxRetriesPerRequest: 0,
    })
  if (ownsRedis) {
    // Without a listener ioredis reports every failed reconnect as an unhandled error; one warning
    // per interval is enough, since every affected event is counted as spilled anyway.
    let lastWarned = 0
    redis.on('error', (error: Error) => {
      if (Date.now() - lastWarned < 10_000) return
      lastWarned = Date.now()
      options.logger?.warn({ err_message: error.message }, 'redis connection error; events spill until it is back')
    })
    await waitForReady(redis, 2_000)
  }
  const spillDir = queue.spillDir ?? join(options.dataDir ?? './.auditq', 'spill')
  let spill: SpillJournal
  try {
    spill = await SpillJournal.open({ dir: spillDir, ...(queue.spillMaxBytes ? { maxBytes: queue.spillMaxBytes } : {}) })
  } catch (error) {
    if (ownsRedis) redis.disconnect()
    if (error instanceof AuditqError) throw error
    // A full disk alone no longer stops the journal from opening; what still does (no inode left,
    // EACCES, EROFS, a file where the directory should be) is named with the directory and errno.
    throw new AuditqError('AUDITQ_SPILL_FAILED', `cannot open the spill journal in ${resolve(spillDir)}: ${errnoOf(error)} (${(error as Error).message})`, { cause: error })
  }
  return new QueuedAuditLogger(store, { ownsStore, ownsRedis, redis, spill }, options)
}

/** Resolves when connected, or after `timeoutMs` (Redis being down at start is not fatal: events spill). */
function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    redis.once('ready', done)
  })
}

interface Resources {
  ownsStore: boolean
  ownsRedis: boolean
  redis: Redis
  spill: SpillJournal
}

/**
 * Queue mode: `log()` resolves once Redis holds the event (or, when it cannot, once the event is
 * in the local spill journal or the store). Where an event can wait: the producer's same-tick
 * buffer (until its script call answers), the Redis stream, the spill journal (replayed into the
 * stream when there is room), and — for critical events — nowhere: they go straight to the store.
 */
export class QueuedAuditLogger extends BaseAuditLogger {
  private readonly producer: QueueProducer
  /** Moves spilled events back; does not count them as overflow again while the queue is full. */
  private readonly replayProducer: QueueProducer
  private readonly monitor: QueueMonitor
  protected readonly committer: GroupCommitter
  private readonly settings: typeof DEFAULTS
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

  constructor(
    store: Store,
    private readonly resources: Resources,
    options: AuditLoggerOptions,
  ) {
    super(store, options)
    const queue = options.queue ?? {}
    const keys = queueKeys({ ...(queue.prefix ? { prefix: queue.prefix } : {}), ...(queue.name ? { queue: queue.name } : {}) })
    const cap = queue.capEvents ? { capEvents: queue.capEvents } : {}
    this.producer = new RedisStreamsProducer({ redis: resources.redis, keys, ...cap })
    this.replayProducer = new RedisStreamsProducer({ redis: resources.redis, keys, ...cap, countOverflow: false })
    this.monitor = new QueueMonitor(resources.redis, keys)
    this.committer = new GroupCommitter(store, {
      ...DEFAULT_GROUP_COMMIT,
      ...options.groupCommit,
      onCommit: (report) => {
        this.counters.recordCommit(report)
        options.observeCommit?.(report)
      },
    })
    this.settings = {
      ...DEFAULTS,
      ...(queue.overflowPolicy ? { overflowPolicy: queue.overflowPolicy } : {}),
      ...(queue.blockTimeoutMs !== undefined ? { blockTimeoutMs: queue.blockTimeoutMs } : {}),
      ...(queue.replayEveryMs ? { replayEveryMs: queue.replayEveryMs } : {}),
    }
    this.replayBatchSize = Math.max(1, Math.min(500, Math.floor((queue.capEvents ?? DEFAULT_CAP_EVENTS) / 4)))
    this.replayTimer = setInterval(() => void this.replaySpill(), this.settings.replayEveryMs)
    this.replayTimer.unref()
  }

  /** Spilled events not yet back in the queue (for health and metrics). */
  spillStats() {
    return this.resources.spill.stats()
  }

  protected async route(events: AuditEvent[], options: { critical: boolean }): Promise<EventOutcome[]> {
    if (options.critical) return this.committer.submit(events, { urgent: true })
    let overCap: AuditEvent[]
    try {
      const result = await this.producer.enqueue(events)
      this.counters.enqueued += result.enqueued.length
      overCap = result.overCap
      if (overCap.length === 0) return events.map(() => ({ ok: true }))
      this.counters.overflowed += overCap.length
      this.warnThrottled('overflow', { events: overCap.length, policy: this.settings.overflowPolicy, overflowed_total: this.counters.overflowed }, 'queue over its cap; applying the overflow policy')
    } catch (error) {
      this.warnThrottled('unavailable', { err_message: (error as Error).message, events: events.length, spilled_total: this.counters.spilled }, 'redis unavailable; spilling events to the local journal')
      this.counters.queueUnavailable += events.length
      // An enqueue that failed part-way may have added some events: re-adding them from the
      // journal later is harmless (the store is idempotent on id); losing them would not be.
      return this.divert(events, 'spill', 'redis is unavailable')
    }
    const outcomes = new Map<AuditEvent, EventOutcome>()
    const diverted = await this.divert(overCap, this.settings.overflowPolicy, 'the queue is over its cap')
    overCap.forEach((event, index) => outcomes.set(event, diverted[index]!))
    return events.map((event) => outcomes.get(event) ?? { ok: true })
  }

  /**
   * Events that could not be queued: critical ones are written to the store now; the rest follow
   * the policy. Every path is counted; none is silent.
   */
  private async divert(events: AuditEvent[], policy: OverflowPolicy, why: string): Promise<EventOutcome[]> {
    const outcomes: EventOutcome[] = new Array(events.length)
    const critical: number[] = []
    const others: number[] = []
    events.forEach((event, index) => (event.category === 'critical' ? critical : others).push(index))
    const direct = critical.length > 0 ? this.committer.submit(critical.map((i) => events[i]!), { urgent: true }) : Promise.resolve([])
    let rest: EventOutcome[]
    if (policy === 'drop') rest = this.drop(others.length)
    else {
      let pending = others.map((i) => events[i]!)
      if (policy === 'block') pending = await this.waitForRoom(pending)
      const spilled = await this.spillEvents(pending, why)
      rest = [...others.slice(0, others.length - pending.length).map(() => ({ ok: true }) as EventOutcome), ...spilled]
    }
    ;(await direct).forEach((outcome, k) => (outcomes[critical[k]!] = outcome))
    rest.forEach((outcome, k) => (outcomes[others[k]!] = outcome))
    return outcomes
  }

  /** `block`: retries the queue until there is room or the timeout passes; returns what still did not fit. */
  private async waitForRoom(events: AuditEvent[]): Promise<AuditEvent[]> {
    const deadline = Date.now() + this.settings.blockTimeoutMs
    let remaining = events
    while (remaining.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.blockPollMs))
      try {
        const result = await this.producer.enqueue(remaining)
        this.counters.enqueued += result.enqueued.length
        remaining = result.overCap
      } catch {
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
      await this.resources.spill.append(events)
      this.counters.spilled += events.length
      this.countShared('spilled', events.length)
      return events.map(() => ({ ok: true }))
    } catch (error) {
      this.counters.refused += events.length
      this.countShared('dropped', events.length)
      const code = error instanceof AuditqError && (error.code === 'AUDITQ_SPILL_FULL' || error.code === 'AUDITQ_CLOSED') ? error.code : 'AUDITQ_SPILL_FAILED'
      this.errorThrottled(`refused:${code}`, { err_message: (error as Error).message, code, errno: errnoOf(error), events: events.length, refused_total: this.counters.refused }, `${why} and the spill journal cannot take events; events refused`)
      const refusal = new AuditqError(code, `${why} and the event could not be spilled: ${(error as Error).message}`, { cause: error })
      return events.map(() => ({ ok: false, error: refusal }))
    }
  }

  /** `drop`: the seeds' policy, made honest — the caller is told (AUDITQ_QUEUE_FULL) and it is counted. */
  private drop(count: number): EventOutcome[] {
    if (count === 0) return []
    this.counters.refused += count
    this.countShared('dropped', count)
    this.log_.warn({ events: count }, 'queue over its cap; events refused (overflow policy drop)')
    const refusal = new AuditqError('AUDITQ_QUEUE_FULL', 'the queue is over its cap (overflow policy: drop); the event was not accepted')
    return Array.from({ length: count }, () => ({ ok: false, error: refusal }))
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
    void this.resources.spill.retryWrites().catch(() => undefined)
    if (this.replaying || this.resources.spill.stats().events === 0) return this.replaying ?? Promise.resolve()
    this.replaying = (async () => {
      try {
        await this.resources.spill.replay(
          async (events) => {
            const result = await this.replayProducer.enqueue(events)
            // A batch only counts as delivered whole: the part that fitted is sent again next
            // time (a duplicate the store absorbs), so it is counted when the batch completes.
            if (result.overCap.length > 0) throw new Error('queue still over its cap')
            this.counters.replayed += events.length
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
    const stats = this.resources.spill.stats()
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

  protected async shutdown(): Promise<void> {
    clearInterval(this.replayTimer)
    await this.replaying
    await this.producer.close()
    await this.replayProducer.close()
    // Last chance for counts Redis could not take earlier; still owed after this, they are lost
    // with the process (counts only: every event itself is in the journal or in Redis). Bounded:
    // a caller's client with an offline queue would hold the commands while Redis is down.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.flushShared(), new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))])
    clearTimeout(timer)
    await this.committer.drain()
    await this.resources.spill.close()
    if (this.resources.ownsRedis) this.resources.redis.disconnect()
    if (this.resources.ownsStore) await this.store.close()
  }
}
