import type { AuditEvent } from '../event/types.js'

/** One stored event as the feed yields it: the event plus its place in the store's order. */
export interface FeedEvent {
  event: AuditEvent
  /** The tenant's chain sequence number (1, 2, 3 …, no gaps per tenant). */
  seq: number
  /** The event's chain hash (hex). */
  hash: string
  /** Opaque feed cursor positioned just after this event. */
  cursor: string
}

/** Why a delivery failed, as the sink saw it; the runner decides retry versus park from `retryable`. */
export class SinkError extends Error {
  constructor(message: string, readonly options: { retryable: boolean; retryAfterMs?: number; status?: number }) {
    super(message)
    this.name = 'SinkError'
  }
}

/**
 * Where a stream delivers. `deliver` resolves only once the receiver has acknowledged the whole batch (HTTP 2xx, a
 * syslog TCP write flushed and the connection still healthy, an archive segment fsynced); it rejects with SinkError
 * otherwise. Batches arrive in feed order, never concurrently for one sink.
 */
export interface StreamSink {
  readonly kind: 'webhook' | 'syslog' | 'archive'
  deliver(batch: readonly FeedEvent[], options: { signal: AbortSignal }): Promise<void>
  close(): Promise<void>
}
