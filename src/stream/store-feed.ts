/**
 * The stream runner's FeedSource over the store's lossless feed (src/feed): every stored event
 * once, per tenant in chain order, across tenants in commit order, resumable from its cursors.
 */
import { decodeFeedCursor } from '../feed/cursor.js'
import { startPosition, type FeedSource as StoreFeedSource } from '../feed/feed-event.js'
import { readFeedPage } from '../feed/read.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import type { FeedPage, FeedScope, FeedSource } from './feed-source.js'

/** All-tenant streams count their backlog by reading ahead, up to this many positions. */
export const BACKLOG_COUNT_CAP = 10_000

export class StoreFeed implements FeedSource {
  constructor(
    private readonly source: StoreFeedSource,
    private readonly integrity?: IntegrityStore,
  ) {}

  /** Throws AUDITQ_BAD_REQUEST when `cursor` is not one of this scope's feed cursors. */
  checkCursor(cursor: string, scope: FeedScope): void {
    decodeFeedCursor(cursor, scope.tenant_id ?? undefined)
  }

  async read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    const tenant = scope.tenant_id ?? undefined
    const position = after === null ? startPosition(tenant) : decodeFeedCursor(after, tenant)
    return readFeedPage(this.source, position, limit)
  }

  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        unsubscribe()
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, maxWaitMs)
      const unsubscribe = this.source.onCommit(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /**
   * One tenant: its chain head minus the position's seq, exact. All tenants: the positions after
   * the cursor, counted by reading ahead and capped (the all-tenants order has no cheap count).
   */
  async backlog(after: string | null, scope: FeedScope): Promise<number | null> {
    const tenant = scope.tenant_id ?? undefined
    const position = after === null ? startPosition(tenant) : decodeFeedCursor(after, tenant)
    if (position.scope === 'tenant') {
      if (!this.integrity) return null
      const heads = await this.integrity.snapshot((snapshot) => snapshot.heads(position.tenant), { purpose: 'verify' })
      return Math.max(0, (heads[0]?.seq ?? 0) - position.seq)
    }
    return (await this.source.read(position, BACKLOG_COUNT_CAP)).length
  }
}
