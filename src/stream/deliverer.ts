/**
 * Delivers one stream while this process holds its lease: read a page of the feed after the
 * position, keep what the filter wants, hand it to the sink, and move the position only once the
 * sink acknowledged, fenced by the lease generation. A batch is retried (backoff with jitter,
 * Retry-After honoured) until it is acknowledged, the sink refuses it for good (the stream
 * parks), or the lease is lost: the next holder starts from the persisted position, so nothing
 * is skipped and only the batch in flight can arrive twice.
 */
import type { Logger } from '../util/logger.js'
import { singleTenant, streamWants, type StreamRecord } from './definition.js'
import type { FeedSource } from './feed-source.js'
import type { StreamObserver } from './observer.js'
import { retryDelayMs, sleep } from './retry.js'
import { SinkError, type FeedEvent, type StreamSink } from './sink.js'
import type { Lease, StreamStore } from './stream-store.js'

export interface DelivererSettings {
  leaseTtlMs: number
  pollMs: number
  retryInitialDelayMs: number
  retryMaxDelayMs: number
}

export interface DelivererDependencies {
  store: StreamStore
  feed: FeedSource
  sink: StreamSink
  observer: StreamObserver
  logger: Logger
  settings: DelivererSettings
  now?: () => number
}

/** Why a deliverer stopped. */
export type StopReason = 'stopped' | 'lease_lost' | 'inactive' | 'parked' | 'replay_done' | 'aborted'

/** Part of the lease kept free at the end of a delivery: its abort and the fenced write must fit. */
const LEASE_SAFETY_MS = 1_000
const BACKLOG_EVERY_MS = 5_000
const STATE_CHECK_MS = 1_000

export class Deliverer {
  private readonly now: () => number
  private leaseValidUntil: number
  private renewedAt: number
  private backlogAt = 0
  private checkedAt = 0
  /** Last seq read per tenant (filtered events included), for the all-tenants lag count. */
  private readonly seen = new Map<string, number>()
  private readonly sinceStart: boolean
  private position: string | null

  constructor(
    private record: StreamRecord,
    private readonly lease: Lease,
    private readonly deps: DelivererDependencies,
  ) {
    this.now = deps.now ?? Date.now
    this.renewedAt = this.now()
    this.leaseValidUntil = this.renewedAt + deps.settings.leaseTtlMs
    this.position = record.position
    this.sinceStart = record.position === null
  }

  /**
   * Delivers until `stop`: a batch in flight is still finished and its position saved. `abort`
   * cuts an attempt in flight short ('aborted'); the receiver may still be processing it, so the
   * caller must then let the lease expire rather than release it.
   */
  async run(stop: AbortSignal, abort: AbortSignal = stop): Promise<StopReason> {
    const { store, feed, observer, settings } = this.deps
    const scope = { tenant_id: singleTenant(this.record) }
    while (!stop.aborted) {
      if (!(await this.keepLease())) return 'lease_lost'
      // Paused, deleted or edited elsewhere: looked up about once a second, not per batch (the
      // fenced advance already stops a deliverer that lost its lease).
      if (this.now() - this.checkedAt >= STATE_CHECK_MS) {
        const fresh = await store.get(this.record.name)
        if (!fresh || fresh.state !== 'active') return 'inactive'
        if (fresh.position !== this.position) return 'lease_lost' // someone else moved it: we are not the holder
        this.record = fresh
        this.checkedAt = this.now()
      }
      const current = this.record
      const page = await feed.read(this.position, current.batch_size, scope)
      if (page.events.length === 0 && page.next !== this.position) {
        // Only positions whose events retention deleted: move past them, or the stream would stall.
        if (!(await store.advance(this.lease, { position: page.next!, delivered: 0, delivered_through: null }))) return 'lease_lost'
        this.position = page.next
        continue
      }
      if (page.events.length === 0) {
        if (current.replay_of !== null) {
          await store.delete(current.name)
          return 'replay_done'
        }
        observer.lag(current.name, 0, 0)
        await feed.waitForNew(settings.pollMs, stop)
        continue
      }
      await this.observeLag(page.events, scope)
      for (const entry of page.events) this.seen.set(entry.event.tenant_id, entry.seq)
      const wanted = page.events.filter((entry) => streamWants(current, entry.event))
      if (wanted.length > 0) {
        const outcome = await this.deliverWithRetries(wanted, stop, abort)
        if (outcome !== 'acknowledged') return outcome
      }
      const last = wanted[wanted.length - 1]
      const moved = await store.advance(this.lease, {
        position: page.next!,
        delivered: wanted.length,
        delivered_through: last ? last.event.occurred_at : null,
        ...(current.sink.kind === 'archive' ? { tenant_seqs: highestSeqs(page.events) } : {}),
      })
      if (!moved) return 'lease_lost'
      this.position = page.next
    }
    return 'stopped'
  }

  private async deliverWithRetries(batch: readonly FeedEvent[], stop: AbortSignal, abort: AbortSignal): Promise<'acknowledged' | StopReason> {
    const { store, sink, observer, logger, settings } = this.deps
    const name = this.record.name
    for (let retry = 1; ; retry++) {
      if (stop.aborted) return 'stopped'
      if (!(await this.keepLease({ force: this.leaseValidUntil - this.now() < settings.leaseTtlMs / 2 }))) return 'lease_lost'
      const attempt = new AbortController()
      const onStop = () => attempt.abort()
      if (abort.aborted) return 'aborted'
      abort.addEventListener('abort', onStop, { once: true })
      // Never deliver past the lease: once it could have expired, another process may be sending.
      const guard = setTimeout(() => attempt.abort(), Math.max(0, this.leaseValidUntil - LEASE_SAFETY_MS - this.now()))
      try {
        await sink.deliver(batch, { signal: attempt.signal })
        const ackAt = this.now()
        observer.delivered(name, batch.length, batch.map((entry) => Math.max(0, (ackAt - Date.parse(entry.event.received_at)) / 1000)))
        return 'acknowledged'
      } catch (error) {
        if (abort.aborted) return 'aborted'
        if (stop.aborted) return 'stopped'
        const failure = error instanceof SinkError ? error : new SinkError((error as Error).message ?? String(error), { retryable: true })
        const park = !failure.options.retryable
        observer.failed(name, park ? 'park' : 'retry')
        const recorded = await store.recordFailure(this.lease, failure.message, { park })
        if (park) {
          logger.warn({ stream: name, err_message: failure.message, status: failure.options.status }, 'stream parked: the sink refused a batch for good; fix the receiver, then `auditq streams resume`')
          return 'parked'
        }
        if (!recorded) return 'lease_lost'
        const delay = retryDelayMs(retry, { initialDelayMs: settings.retryInitialDelayMs, maxDelayMs: settings.retryMaxDelayMs, ...(failure.options.retryAfterMs !== undefined ? { retryAfterMs: failure.options.retryAfterMs } : {}) })
        // The first failure of a run and then every tenth, so a long outage does not flood the log.
        if (retry === 1 || retry % 10 === 0) logger.warn({ stream: name, retry, delay_ms: delay, err_message: failure.message }, 'stream delivery failed; retrying')
        if (!(await this.sleepHoldingLease(delay, stop))) return stop.aborted ? 'stopped' : 'lease_lost'
      } finally {
        clearTimeout(guard)
        abort.removeEventListener('abort', onStop)
      }
    }
  }

  /** Waits `ms` while renewing the lease, so a long backoff does not hand the stream to someone else. */
  private async sleepHoldingLease(ms: number, stop: AbortSignal): Promise<boolean> {
    const until = this.now() + ms
    while (!stop.aborted && this.now() < until) {
      await sleep(Math.min(until - this.now(), this.deps.settings.leaseTtlMs / 3), stop)
      if (!(await this.keepLease())) return false
    }
    return !stop.aborted
  }

  /** Renews once a third of the TTL has passed (or when forced); false once the lease is gone. */
  private async keepLease(options: { force?: boolean } = {}): Promise<boolean> {
    const { leaseTtlMs } = this.deps.settings
    const at = this.now()
    if (!options.force && at - this.renewedAt < leaseTtlMs / 3) return true
    if (!(await this.deps.store.renew(this.lease, leaseTtlMs))) return false
    this.renewedAt = at
    this.leaseValidUntil = at + leaseTtlMs
    return true
  }

  private async observeLag(events: readonly FeedEvent[], scope: { tenant_id: string | null }): Promise<void> {
    const seconds = Math.max(0, (this.now() - Date.parse(events[0]!.event.received_at)) / 1000)
    let backlog: number | null = null
    if (this.deps.feed.backlog && this.now() - this.backlogAt >= BACKLOG_EVERY_MS) {
      this.backlogAt = this.now()
      backlog = await this.deps.feed.backlog(this.position, scope, { seqs: this.seen, sinceStart: this.sinceStart })
    }
    this.deps.observer.lag(this.record.name, backlog, seconds)
  }
}

/** Per tenant, the highest seq in a page (the page is in feed order, so the last one seen). */
function highestSeqs(events: readonly FeedEvent[]): Record<string, number> {
  const seqs: Record<string, number> = {}
  for (const entry of events) seqs[entry.event.tenant_id] = Math.max(seqs[entry.event.tenant_id] ?? 0, entry.seq)
  return seqs
}
