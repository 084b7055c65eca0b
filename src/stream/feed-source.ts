import type { FeedEvent } from './sink.js'

/** Which part of the feed a reader wants: one tenant's events, or every tenant's (null). */
export interface FeedScope {
  tenant_id: string | null
}

export interface FeedPage {
  /** In feed order; at most the limit asked for. */
  events: FeedEvent[]
  /** Where the next read continues: the last event's cursor, or `after` unchanged when there was none. */
  next: string | null
}

/**
 * The lossless feed as the stream runner reads it: every stored event, each exactly once, in the
 * store's order, resumable from an opaque cursor. Owned here, by the consumer; an adapter over the
 * store's feed reader implements it.
 */
export interface FeedSource {
  read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage>
  /**
   * Resolves when new events may have been committed, or after `maxWaitMs` at the latest (a
   * hint: the runner reads again either way, so a missed notice costs latency, never events).
   */
  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void>
  /** How many events lie after `after` (for the lag metric); null when the source cannot tell cheaply. */
  backlog?(after: string | null, scope: FeedScope): Promise<number | null>
}
