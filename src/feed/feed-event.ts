/**
 * What the feed yields and what a store must offer to produce it. Types only: the feed folder
 * depends on no store, the stores implement `FeedSource`.
 */
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

/**
 * A place in the feed, decoded. One tenant's feed is ordered by chain seq alone. The all-tenants
 * feed is ordered by (key, tenant, seq), where `key` is a store-made commit-order key (PostgreSQL:
 * a transaction id, see src/store/postgres/feed-sql.ts; embedded: a counter bumped by each write
 * transaction). `key` is a decimal string: PostgreSQL's are 64-bit.
 */
export type FeedPosition =
  | { scope: 'tenant'; tenant: string; seq: number }
  | { scope: 'all'; key: string; tenant: string; seq: number }

/** One position the store read past. `event` is null where retention deleted the event: the position still counts. */
export interface FeedRow {
  event: AuditEvent | null
  seq: number
  hash: string
  position: FeedPosition
}

/**
 * The store's side of the feed. `read` returns up to `limit` positions after `after`, in feed
 * order, from one consistent snapshot, such that no position before the last one returned can
 * become visible later (docs/feed.md says why each store can promise that).
 */
export interface FeedSource {
  read(after: FeedPosition, limit: number): Promise<FeedRow[]>
  /**
   * Called back (a hint only, with no payload) after this process committed events; readers
   * still find what is new by reading. Returns the unsubscribe function.
   */
  onCommit(listener: () => void): () => void
}

/** Where a feed starts when the caller gives no cursor. */
export function startPosition(tenant: string | undefined): FeedPosition {
  return tenant === undefined ? { scope: 'all', key: '0', tenant: '', seq: 0 } : { scope: 'tenant', tenant, seq: 0 }
}
