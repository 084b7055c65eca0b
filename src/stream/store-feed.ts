/**
 * The stream runner's FeedSource over the store's lossless feed (src/feed): every stored event
 * once, per tenant in chain order, across tenants in commit order, resumable from its cursors.
 */
import { decodeFeedCursor } from '../feed/cursor.js'
import { startPosition, type FeedSource as StoreFeedSource } from '../feed/feed-event.js'
import { readFeedPage } from '../feed/read.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import type { FeedPage, FeedScope, FeedSource, SeenSeqs } from './feed-source.js'

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
   * One tenant: its chain head minus the position's seq, exact. All tenants: the commit order has
   * no cheap count, so it is summed over the tenants this reader has seen (head minus the last seq
   * read; a tenant not seen yet counts whole when the reader began at the feed's start) — exact
   * while one process delivers from the start, a lower bound right after a takeover until each
   * tenant's next event has been read. One small query either way, never a read-ahead.
   */
  async backlog(after: string | null, scope: FeedScope, seen: SeenSeqs): Promise<number | null> {
    if (!this.integrity) return null
    const tenant = scope.tenant_id ?? undefined
    const position = after === null ? startPosition(tenant) : decodeFeedCursor(after, tenant)
    const heads = await this.integrity.snapshot((snapshot) => snapshot.heads(tenant), { purpose: 'verify' })
    if (position.scope === 'tenant') return Math.max(0, (heads[0]?.seq ?? 0) - position.seq)
    if (after === null) return heads.reduce((sum, head) => sum + head.seq, 0)
    const last = (tenant_id: string) => seen.seqs.get(tenant_id) ?? (seen.sinceStart ? 0 : null)
    return heads.reduce((sum, head) => sum + Math.max(0, head.seq - (last(head.tenant_id) ?? head.seq)), 0)
  }
}
