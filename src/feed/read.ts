/**
 * Pages of the feed: positions from the store turned into FeedEvents with cursors, and the wait
 * for the next event when a page is empty (long-poll, `tail --follow`).
 */
import { encodeFeedCursor } from './cursor.js'
import type { FeedEvent, FeedPosition, FeedSource } from './feed-event.js'

export interface FeedPage {
  events: FeedEvent[]
  /** Where the next read continues; the caller's own cursor again when nothing was new. */
  next: string
}

/**
 * One page after `after`. `next` moves past every position read, including positions whose event
 * retention has deleted, so a run of deleted events never stalls a consumer.
 */
export async function readFeedPage(source: FeedSource, after: FeedPosition, limit: number, skip: SkipTenant = {}): Promise<FeedPage> {
  return (await readPositions(source, after, limit, skip)).page
}

/**
 * A tenant whose events an all-tenants reader passes over like deleted ones (its positions still
 * count): auditq's own system tenant, so a follower of every tenant is not shown, and woken by,
 * the records of its own reads (docs/decisions.md, "Recording feed reads").
 */
export interface SkipTenant {
  skipTenant?: string
}

async function readPositions(source: FeedSource, after: FeedPosition, limit: number, skip: SkipTenant): Promise<{ page: FeedPage; last: FeedPosition }> {
  const rows = await source.read(after, limit)
  const events: FeedEvent[] = []
  for (const row of rows) {
    if (row.event === null) continue
    if (skip.skipTenant !== undefined && after.scope === 'all' && row.event.tenant_id === skip.skipTenant) continue
    events.push({ event: row.event, seq: row.seq, hash: row.hash, cursor: encodeFeedCursor(row.position) })
  }
  const last = rows.at(-1)?.position ?? after
  return { page: { events, next: encodeFeedCursor(last) }, last }
}

export interface WaitOptions extends SkipTenant {
  /** How long to wait for a first event when there is none yet; 0 answers at once. */
  waitMs: number
  /**
   * How often to read again while waiting. The store's commit signal wakes the wait early, but it
   * only hears this process's writes (a queue worker or another replica writes elsewhere), and the
   * all-tenants feed also waits for older transactions to end, which no signal announces.
   */
  pollMs: number
  signal?: AbortSignal
}

/**
 * Reads a page; while it is empty and time remains, waits for a commit signal or the poll interval
 * and reads again. Any page with events, or the deadline, or an abort, ends the wait. Correctness
 * comes only from the reads: a signal missed or spurious costs at most one poll interval.
 */
export async function waitForFeedPage(source: FeedSource, after: FeedPosition, limit: number, options: WaitOptions): Promise<FeedPage> {
  const deadline = Date.now() + options.waitMs
  let woken = false
  let wake: (() => void) | undefined
  const unsubscribe = source.onCommit(() => {
    woken = true
    wake?.()
  })
  const onAbort = () => wake?.()
  options.signal?.addEventListener('abort', onAbort)
  try {
    for (;;) {
      woken = false
      const { page, last } = await readPositions(source, after, limit, options)
      const remaining = deadline - Date.now()
      if (page.events.length > 0 || remaining <= 0 || options.signal?.aborted) return page
      // A page of only deleted (or left-out) positions still moved the cursor: continue from
      // there at once, since more may follow it; only a read that found nothing waits.
      const moved = last !== after
      after = last
      if (woken || moved) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(options.pollMs, remaining))
        function done() {
          clearTimeout(timer)
          wake = undefined
          resolve()
        }
        wake = done
      })
    }
  } finally {
    unsubscribe()
    options.signal?.removeEventListener('abort', onAbort)
  }
}
