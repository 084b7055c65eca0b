/**
 * One feed read for every stream of this process that passes the same stretch of the feed. Each
 * read costs the database a page of index probes and this process the parsing of every row, so
 * streams that each read the same events multiply the feed's cost on the database's host.
 *
 * What is read is kept, for a few seconds, as contiguous stretches of the feed ("segments"): every
 * event in order with its cursor, from the position the first read started after. A stream whose
 * position lies in a segment is served from it; one that reaches a segment's end extends it with
 * one read after the end, which every stream reaching that end at the same time shares. Streams
 * that follow the live end a few hundred milliseconds apart, each with pages of its own size,
 * therefore read each event from the store once between them. A stream far behind (a replay, a
 * deliverer taking over) starts a segment of its own.
 *
 * Why kept events are still right: the feed never shows a position before one already read later
 * (docs/feed.md), so the events between two positions read are the same on every later read. Only
 * what retention deleted or erasure changed within the keep time can differ, the same race a read
 * made just before the deletion runs. The end of a segment is never taken for the end of the feed:
 * whatever lies after it is read from the store.
 *
 * The events are shared between streams, so formatters and sinks must not change them (none does).
 */
import type { FeedPage, FeedScope, FeedSource, SeenSeqs } from './feed-source.js'
import type { FeedEvent } from './sink.js'

export interface SharedFeedOptions {
  /** Events kept across every segment; the oldest go first (default 10,000: 20 pages at the default batch). */
  events?: number
  /** How long a kept event may be handed out after it was read (default 5 s). */
  keepMs?: number
  /** Segments kept at once, the least recently used dropped first (default 8). */
  segments?: number
  /**
   * A read past a segment's end asks for at least this many positions (default 500, the default
   * batch), so a stream with a small batch does not make the streams behind it read in small pages.
   */
  readAtLeast?: number
  now?: () => number
}

/** One position read: its event, or none where retention deleted it (the position still advances). */
interface Entry {
  event: FeedEvent | null
  cursor: string
  at: number
}

/** A contiguous stretch of one scope's feed. */
interface Segment {
  scope: string
  entries: Entry[]
  /** Absolute index of entries[0]; the start position is base - 1. */
  base: number
  /** Cursor key → absolute index of the entry it follows (base - 1 for the start). */
  index: Map<string, number>
  startKey: string
  /** The position after the last entry, where an extension reads from. */
  end: string | null
  extending: Promise<void> | undefined
  usedAt: number
}

const keyOf = (cursor: string | null) => cursor ?? ''

export class SharedFeed implements FeedSource {
  private readonly segments: Segment[] = []
  private readonly inFlight = new Map<string, Promise<void>>()
  private readonly maxEvents: number
  private readonly keepMs: number
  private readonly maxSegments: number
  private readonly readAtLeast: number
  private readonly now: () => number

  constructor(
    private readonly inner: FeedSource,
    options: SharedFeedOptions = {},
  ) {
    this.maxEvents = options.events ?? 10_000
    this.keepMs = options.keepMs ?? 5_000
    this.maxSegments = options.segments ?? 8
    this.readAtLeast = options.readAtLeast ?? 500
    this.now = options.now ?? Date.now
  }

  async read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    const scopeKey = scope.tenant_id === null ? '*' : `t:${scope.tenant_id}`
    // One store read per call at most: a stream that is caught up gets what there is now, not a wait.
    let fetched = false
    for (;;) {
      this.expire()
      const found = this.locate(scopeKey, after)
      if (!found) {
        // Kept nowhere even after a read (a count cap below one read, or more segments started at
        // once than are kept): read for this call alone.
        if (fetched) return this.inner.read(after, limit, scope)
        await this.readThrough(after, limit, scope, scopeKey)
        fetched = true
        continue
      }
      const { segment, at } = found
      segment.usedAt = this.now()
      const page = collect(segment, at, after, limit)
      if (page.events.length >= limit || !page.exhausted || fetched) return { events: page.events, next: page.next }
      await this.extend(segment, limit, scope)
      fetched = true
    }
  }

  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitForNew(maxWaitMs, signal)
  }

  backlog(after: string | null, scope: FeedScope, seen: SeenSeqs): Promise<number | null> {
    return this.inner.backlog ? this.inner.backlog(after, scope, seen) : Promise.resolve(null)
  }

  /** Where `after` lies in a segment of this scope; of several, the one holding the most after it. */
  private locate(scopeKey: string, after: string | null): { segment: Segment; at: number } | undefined {
    let best: { segment: Segment; at: number } | undefined
    for (const segment of this.segments) {
      if (segment.scope !== scopeKey) continue
      const at = segment.index.get(keyOf(after))
      if (at === undefined) continue
      if (!best || segment.base + segment.entries.length - at > best.segment.base + best.segment.entries.length - best.at) best = { segment, at }
    }
    return best
  }

  /** Reads after the segment's end and appends what came; shared by every stream that reached the end meanwhile. */
  private extend(segment: Segment, limit: number, scope: FeedScope): Promise<void> {
    segment.extending ??= this.inner
      .read(segment.end, Math.max(limit, this.readAtLeast), scope)
      .then((page) => this.append(segment, page))
      .finally(() => {
        segment.extending = undefined
      })
    return segment.extending
  }

  /** A position no segment holds: read from the store (one read for every stream asking at once), kept as a new segment. */
  private readThrough(after: string | null, limit: number, scope: FeedScope, scopeKey: string): Promise<void> {
    const key = `${scopeKey}|${keyOf(after)}`
    const pending = this.inFlight.get(key)
    if (pending) return pending
    const read = this.inner
      .read(after, Math.max(limit, this.readAtLeast), scope)
      .then((page) => this.startSegment(scopeKey, after, page))
      .finally(() => this.inFlight.delete(key))
    this.inFlight.set(key, read)
    return read
  }

  private startSegment(scopeKey: string, after: string | null, page: FeedPage): void {
    if (this.locate(scopeKey, after)) return
    const segment: Segment = { scope: scopeKey, entries: [], base: 0, index: new Map([[keyOf(after), -1]]), startKey: keyOf(after), end: after, extending: undefined, usedAt: this.now() }
    this.segments.push(segment)
    if (this.segments.length > this.maxSegments) {
      const oldest = this.segments.reduce((a, b) => (b.usedAt < a.usedAt ? b : a))
      this.segments.splice(this.segments.indexOf(oldest), 1)
    }
    this.append(segment, page)
  }

  private append(segment: Segment, page: FeedPage): void {
    const at = this.now()
    const add = (event: FeedEvent | null, cursor: string) => {
      if (segment.index.has(cursor)) return
      segment.entries.push({ event, cursor, at })
      segment.index.set(cursor, segment.base + segment.entries.length - 1)
      segment.end = cursor
    }
    for (const event of page.events) add(event, event.cursor)
    // Positions past the last event (retention deleted their events) still advance the segment.
    if (page.next !== null && page.next !== segment.end) add(null, page.next)
    this.evictOverCap()
  }

  /** Drops entries read longer than keepMs ago, oldest first. */
  private expire(): void {
    const cutoff = this.now() - this.keepMs
    for (const segment of this.segments) {
      let n = 0
      while (n < segment.entries.length && segment.entries[n]!.at < cutoff) n++
      if (n > 0) this.drop(segment, n)
    }
  }

  private evictOverCap(): void {
    // Counted, not tracked: a read in flight for a segment dropped meanwhile still appends to it.
    for (let held = this.held(); held > this.maxEvents; held = this.held()) {
      let oldest: Segment | undefined
      for (const segment of this.segments) {
        if (segment.entries.length > 0 && (!oldest || segment.entries[0]!.at < oldest.entries[0]!.at)) oldest = segment
      }
      if (!oldest) return
      this.drop(oldest, Math.min(oldest.entries.length, held - this.maxEvents))
    }
  }

  private held(): number {
    return this.segments.reduce((sum, segment) => sum + segment.entries.length, 0)
  }

  /** Drops a segment's first `n` entries: the last one dropped becomes its start. */
  private drop(segment: Segment, n: number): void {
    if (n <= 0) return
    const gone = segment.entries.splice(0, n)
    segment.index.delete(segment.startKey)
    for (const entry of gone.slice(0, -1)) segment.index.delete(entry.cursor)
    segment.startKey = gone.at(-1)!.cursor
    segment.base += n
  }
}

/** Up to `limit` events after the entry at absolute index `at`; `exhausted` when the segment ran out first. */
function collect(segment: Segment, at: number, after: string | null, limit: number): { events: FeedEvent[]; next: string | null; exhausted: boolean } {
  const events: FeedEvent[] = []
  let next = after
  let i = at + 1 - segment.base
  while (i < segment.entries.length && events.length < limit) {
    const entry = segment.entries[i++]!
    if (entry.event) events.push(entry.event)
    next = entry.cursor
  }
  return { events, next, exhausted: i >= segment.entries.length }
}
