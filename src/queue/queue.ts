import type { AuditEvent } from '../event/types.js'
import type { PreparedEvent } from '../integrity/prepared-event.js'

/**
 * The queue as the SDK (producer side) and the worker (consumer side) see it. Redis Streams is the
 * one implementation today (`redis-streams/`); keeping the two roles apart lets a process that only
 * logs never hold a consumer, and lets tests stand in for either side.
 *
 * Guarantees, named once (Vector's vocabulary):
 * - **accepted**: `enqueue` resolved and listed the event in `enqueued`: the queue holds it, as
 *   durably as its server's persistence allows (see `redis-streams/durability.ts`).
 * - **pending**: a consumer has read it; it stays in the queue, owned by that consumer, until acked.
 * - **acknowledged**: `ack` after the batch holding it committed to the store; it leaves the queue.
 * - **dead-lettered**: it failed on its own; it waits, with its error, in the dead-letter queue.
 */
export interface QueueProducer {
  /**
   * Adds events in order, atomically against the cap. Resolves once the queue holds them. Events
   * past the cap come back in `overCap` (the caller's policy decides: spill, block or drop) and are
   * counted as `overflow`. Rejects when the queue did not confirm (code `AUDITQ_QUEUE_UNAVAILABLE`);
   * an unconfirmed event may or may not be queued — the reply may be what was lost — so re-sending
   * it is the safe move: the store is idempotent on event id.
   */
  enqueue(events: readonly AuditEvent[]): Promise<EnqueueResult>
  close(): Promise<void>
}

export interface EnqueueResult {
  /** Event ids the queue now holds, in input order. */
  enqueued: string[]
  /** Events that did not fit under the cap, in input order (the tail, unless a bulk spanned script calls). */
  overCap: AuditEvent[]
}

/** One event as the queue delivers it. */
export interface QueueEntry {
  /** The queue's own id for this delivery (a stream entry id), used to ack or dead-letter it. */
  entryId: string
  /**
   * The event. For an entry delivered `prepared` it is decoded from the canonical form on first
   * use only (dead-letter accounting, a store without `insertPrepared`); null if that form does not
   * parse, which only a forged entry's digest can vouch for.
   */
  readonly event: AuditEvent | null
  /** What the producer computed for the insert, its digest checked on delivery (see codec.ts). */
  readonly prepared?: PreparedEvent
}

export interface QueueConsumer {
  /** Entries nobody has read yet, up to `max`, waiting at most `blockMs` for the first one. */
  read(max: number, blockMs: number): Promise<QueueEntry[]>
  /** Entries this consumer itself left pending in an earlier run (it died before acking); [] when none remain. */
  recoverOwnPending(max: number): Promise<QueueEntry[]>
  /** Takes over entries another consumer (or a previous run of this one) left pending that long. */
  claimStale(minIdleMs: number, max: number): Promise<QueueEntry[]>
  /** Acknowledges and removes entries; call only after their batch committed. Returns how many. */
  ack(entryIds: readonly string[]): Promise<number>
  /** Moves entries, with the error that kept them out of the store, to the dead-letter queue. */
  deadLetter(entries: readonly QueueEntry[], error: string): Promise<number>
  /** Entries in the queue: waiting plus pending (acknowledged ones are gone). */
  depth(): Promise<number>
  /** Age of the oldest entry still in the queue, 0 when empty. */
  oldestAgeMs(): Promise<number>
  close(): Promise<void>
}
