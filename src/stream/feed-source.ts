import type { FeedEvent } from './sink.js'

/** Which part of the feed a reader wants: one tenant's events, or every tenant's (null). */
export interface FeedScope {
  tenant_id: string | null
}

export interface SeenSeqs {
  seqs: ReadonlyMap<string, number>
  sinceStart: boolean
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
  /**
   * How many events lie after `after` (for the lag metric); null when the source cannot tell
   * cheaply. `seen` is the last seq this reader has read per tenant, for sources whose cursor does
   * not say (the all-tenants order); `sinceStart` says the reader began at the feed's start, so a
   * tenant it has not seen yet is entirely ahead of it.
   */
  backlog?(after: string | null, scope: FeedScope, seen: SeenSeqs): Promise<number | null>
}
