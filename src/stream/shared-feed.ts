/**
 * One feed read for every stream of this process that asks for the same page. Streams with the
 * same scope and batch size that start together, or catch up past each other, ask for the same
 * pages one after the other; each read costs the database a page of index probes and this process
 * the parsing of every row. A read in flight is shared with whoever asks for the same page, and a
 * full page is kept a few seconds for the streams just behind.
 *
 * Why a kept page is still right: a full page ends at a position the feed has read past, and the
 * feed never shows a position before one already read later (docs/feed.md), so a later read of the
 * same page returns the same positions. Only what retention deleted or erasure changed in those
 * seconds can differ, the same race a read made just before the deletion runs. Short pages (the
 * stream caught up) are never kept: a later read may find more.
 *
 * The events are shared between streams, so formatters and sinks must not change them (none does).
 */
import type { FeedPage, FeedScope, FeedSource, SeenSeqs } from './feed-source.js'

export interface SharedFeedOptions {
  /** Full pages kept for streams just behind (default 16: 8,000 events at the default batch). */
  pages?: number
  /** How long a kept page may be handed out (default 5 s). */
  keepMs?: number
  now?: () => number
}

export class SharedFeed implements FeedSource {
  private readonly inFlight = new Map<string, Promise<FeedPage>>()
  /** Insertion order is age order: the first key is the oldest. */
  private readonly kept = new Map<string, { page: FeedPage; at: number }>()
  private readonly pages: number
  private readonly keepMs: number
  private readonly now: () => number

  constructor(
    private readonly inner: FeedSource,
    options: SharedFeedOptions = {},
  ) {
    this.pages = options.pages ?? 16
    this.keepMs = options.keepMs ?? 5_000
    this.now = options.now ?? Date.now
  }

  read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    const key = `${scope.tenant_id === null ? '*' : `t:${scope.tenant_id}`}|${limit}|${after ?? ''}`
    const kept = this.kept.get(key)
    if (kept && this.now() - kept.at <= this.keepMs) return Promise.resolve(kept.page)
    const pending = this.inFlight.get(key)
    if (pending) return pending
    const read = this.inner.read(after, limit, scope).then(
      (page) => {
        this.inFlight.delete(key)
        if (page.events.length === limit) this.keep(key, page)
        return page
      },
      (error: unknown) => {
        this.inFlight.delete(key)
        throw error
      },
    )
    this.inFlight.set(key, read)
    return read
  }

  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitForNew(maxWaitMs, signal)
  }

  backlog(after: string | null, scope: FeedScope, seen: SeenSeqs): Promise<number | null> {
    return this.inner.backlog ? this.inner.backlog(after, scope, seen) : Promise.resolve(null)
  }

  private keep(key: string, page: FeedPage): void {
    const at = this.now()
    this.kept.delete(key)
    this.kept.set(key, { page, at })
    for (const [old, entry] of this.kept) {
      if (this.kept.size <= this.pages && at - entry.at <= this.keepMs) break
      this.kept.delete(old)
    }
  }
}
