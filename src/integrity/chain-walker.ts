/**
 * Walks one tenant's stored chain in seq order and names the first thing wrong with it. Pure: rows
 * are pushed in, so the caller can stream them from a cursor and memory stays constant (the walker
 * holds three rows: the one being judged, the one before it and one ahead).
 *
 * How the first failure is classified (docs/integrity.md has the table):
 * - modified:  a row's stored hash is not the hash of its content and stored prev_hash, or differs
 *              from a signed checkpoint / the head row at that seq;
 * - deleted:   a seq is missing, or a row links to a predecessor that is not stored, or the head
 *              row / a signed checkpoint vouches for more events than are stored;
 * - inserted:  two rows share a seq, or a row sits between two rows that link to each other (or
 *              the next row's hash recomputes only from the row before it), or a row lies beyond
 *              the recorded head; below a cut, a row that does not link to the present row one seq
 *              before it, or one the completed cut would have deleted;
 * - reordered: a row links to (or its hash recomputes only from) the row stored after it.
 *
 * Rows at or below a retention cut were legitimately thinned: there each row must still hash
 * correctly, two present rows with consecutive seqs must link, and the rows the cut promised to
 * keep must match its count and digest exactly. A row the cut's rule would delete is tolerated only
 * while the run may still be deleting: once the run's own `audit.retention.cleanup` event for that
 * cut is in the chain above it, such a row was put there afterwards and is `inserted`.
 */
import { createHash, type Hash } from 'node:crypto'
import { RETENTION_ACTION } from '../event/reserved.js'
import { canonicalVersionOf, chainHash, CURRENT_CANONICAL_VERSION, chainHashV1, GENESIS_HASH } from './canonical.js'
import type { ChainBreak, ChainHead, ChainRow, HoldMatch, RetentionCut } from './types.js'

export interface WalkerOptions {
  tenant_id: string
  cut: RetentionCut | null
  /** Signed checkpoints of this tenant (authentic ones only): seq → hash. */
  checkpoints?: ReadonlyMap<number, string>
  /**
   * Verify only part of the chain: the first row's own prev_hash is taken as the anchor (unless the
   * range starts at seq 1, or just after the cut: then genesis / the cut anchors it).
   */
  partial?: boolean
  /** First seq of a partial range (default 1). */
  fromSeq?: number
  /**
   * First seq hashed with chain format 2 (default 1): rows below it were chained by a version
   * before migration 6 and keep format 1.
   */
  v2FromSeq?: number
}

/** The action of the event a retention run chains once its deletions are done (reserved at intake). */
export { RETENTION_ACTION }

/** Is this the event that the run which made `cut` chains after it finished deleting? */
export function marksCutComplete(cut: Pick<RetentionCut, 'seq' | 'cutoff'>, row: ChainRow): boolean {
  const metadata = row.event.metadata
  return row.event.action === RETENTION_ACTION && row.seq > cut.seq && metadata['cut_seq'] === cut.seq && metadata['cutoff'] === cut.cutoff
}

/** Would this cut have kept this row? (It may delete only rows older than cutoff, not excluded, not held.) */
export function cutKeeps(cut: Pick<RetentionCut, 'cutoff' | 'keep_actions' | 'holds'>, row: ChainRow): boolean {
  return (
    Date.parse(row.event.occurred_at) >= Date.parse(cut.cutoff) ||
    cut.keep_actions.includes(row.event.action) ||
    (cut.holds ?? []).some((hold) => holdMatches(hold, row.event))
  )
}

/** Does a legal hold keep this event? (Same rule as the stores' delete statements.) */
export function holdMatches(hold: HoldMatch, event: Pick<ChainRow['event'], 'actor_id' | 'resource_type' | 'resource_id'>): boolean {
  if (hold.actor_id !== null && event.actor_id !== hold.actor_id) return false
  if (hold.resource_type !== null && (event.resource_type !== hold.resource_type || event.resource_id !== hold.resource_id)) return false
  return true
}

/** Fingerprint of the rows a cut keeps: SHA-256 over their hashes in seq order, one per line. */
export class KeptDigest {
  private readonly hash: Hash = createHash('sha256')
  count = 0
  add(rowHash: string): void {
    this.hash.update(rowHash).update('\n')
    this.count += 1
  }
  digest(): string {
    return this.hash.digest('hex')
  }
}

interface Link {
  seq: number
  hash: string
}

export class ChainWalker {
  events = 0
  checkpointsMatched = 0
  private failure: ChainBreak | undefined
  private readonly kept = new KeptDigest()
  private prefixClosed: boolean
  private prev: Link | undefined
  private prevprev: Link | undefined
  private pending: ChainRow | undefined
  private lastPrefixSeq = 0
  /** The previous row present at or below the cut (or genesis), for the link check there. */
  private prevPrefix: Link | undefined
  /** The first row at or below the cut that the cut's rule would delete, and how many there are. */
  private tolerated: { row: ChainRow; count: number } | undefined
  private cutCompleted = false

  constructor(private readonly options: WalkerOptions) {
    const { cut } = options
    const fromSeq = options.partial ? (options.fromSeq ?? 1) : 1
    this.prefixClosed = cut === null
    if (fromSeq <= 1) this.prevPrefix = { seq: 0, hash: GENESIS_HASH }
    if (!options.partial) this.prev = cut ? { seq: cut.seq, hash: cut.hash } : { seq: 0, hash: GENESIS_HASH }
    else if (fromSeq <= 1 && !cut) this.prev = { seq: 0, hash: GENESIS_HASH }
    else if (cut && fromSeq <= cut.seq + 1) this.prev = { seq: cut.seq, hash: cut.hash }
  }

  get broken(): ChainBreak | undefined {
    return this.failure
  }

  /** The last row accepted in order (or the cut, or genesis). */
  get head(): Link | undefined {
    return this.prev
  }

  /** Feed the next row in (seq, id) order. Returns the first break once found; later rows are ignored. */
  push(row: ChainRow): ChainBreak | undefined {
    if (this.failure) return this.failure
    const { cut } = this.options
    if (cut && row.seq <= cut.seq) {
      this.checkPrefixRow(row, cut)
      return this.failure
    }
    if (!this.prefixClosed) this.closePrefix()
    if (this.failure) return this.failure
    if (this.pending) this.judge(this.pending, row)
    this.pending = row
    return this.failure
  }

  /** After the last row: judge the row still pending, then compare with the head and checkpoints. */
  finish(head: ChainHead | null, options: { checkHead: boolean } = { checkHead: true }): ChainBreak | undefined {
    if (!this.failure && !this.prefixClosed) this.closePrefix()
    if (!this.failure && this.pending) this.judge(this.pending, undefined)
    this.pending = undefined
    if (!this.failure && this.tolerated && this.cutCompleted) {
      const { row, count } = this.tolerated
      this.fail(
        row.seq,
        'inserted',
        `event ${row.event.id} at seq ${row.seq} lies at or below the retention cut (seq ${this.options.cut!.seq}) and matches its rule, ` +
          `but that run has completed and would have deleted it` + (count > 1 ? ` (${count} such events)` : ''),
      )
    }
    if (this.failure || !options.checkHead) return this.failure
    const last = this.prev ?? { seq: 0, hash: GENESIS_HASH }
    if (!head && last.seq > 0) {
      return this.fail(last.seq, 'deleted', `the tenant's head row is missing although its chain reaches seq ${last.seq}`)
    }
    if (head && head.seq > last.seq) {
      return this.fail(last.seq + 1, 'deleted', `the head records ${head.seq} events but the chain ends at seq ${last.seq}`)
    }
    if (head && head.seq < last.seq) {
      return this.fail(head.seq + 1, 'inserted', `seq ${head.seq + 1}..${last.seq} lie beyond the recorded head (seq ${head.seq})`)
    }
    if (head && head.seq === last.seq && head.seq > 0 && head.hash !== last.hash) {
      return this.fail(last.seq, 'modified', 'the last event does not match the hash recorded in the head row')
    }
    for (const [seq] of this.options.checkpoints ?? []) {
      if (seq > last.seq) return this.fail(last.seq + 1, 'deleted', `a signed checkpoint vouches for seq ${seq} but the chain ends at seq ${last.seq}`)
    }
    return undefined
  }

  private checkPrefixRow(row: ChainRow, cut: RetentionCut): void {
    if (row.seq === this.lastPrefixSeq) {
      this.fail(row.seq, 'inserted', `a second event with seq ${row.seq} (id ${row.event.id})`)
      return
    }
    this.lastPrefixSeq = row.seq
    if (this.hashOf(row) !== row.hash) {
      this.fail(row.seq, 'modified', `event ${row.event.id}: the stored hash does not match its content`)
      return
    }
    if (row.seq === cut.seq && row.hash !== cut.hash) {
      this.fail(row.seq, 'modified', 'the event at the retention cut does not match the hash the cut recorded')
      return
    }
    // Retention deletes rows, it never rewrites links: neighbours that both survived still link.
    const before = this.prevPrefix
    if (before && row.seq === before.seq + 1 && row.prev_hash !== before.hash) {
      this.fail(row.seq, 'inserted', `seq ${row.seq} (event ${row.event.id}) does not link to seq ${before.seq} below the retention cut: it is not part of the chain`)
      return
    }
    this.prevPrefix = { seq: row.seq, hash: row.hash }
    this.matchCheckpoint(row)
    if (cutKeeps(cut, row)) this.kept.add(row.hash)
    else if (this.tolerated) this.tolerated.count += 1
    else this.tolerated = { row, count: 1 }
    this.events += 1
  }

  private closePrefix(): void {
    this.prefixClosed = true
    const cut = this.options.cut
    // A range sees only part of the prefix, so the whole-prefix count and digest cannot apply.
    if (!cut || this.options.partial) return
    const digest = this.kept.digest()
    const found = this.kept.count
    if (found === cut.kept_count && digest === cut.kept_digest) return
    const problem = found < cut.kept_count ? 'deleted' : found > cut.kept_count ? 'inserted' : 'modified'
    this.fail(
      cut.seq,
      problem,
      `events up to the retention cut at seq ${cut.seq}: ${found} kept rows found, the cut recorded ${cut.kept_count}` +
        (found === cut.kept_count ? ' with a different digest' : ''),
    )
  }

  private judge(row: ChainRow, next: ChainRow | undefined): void {
    const prev = this.prev
    if (prev && row.seq === prev.seq) {
      this.fail(row.seq, 'inserted', `a second event with seq ${row.seq} (id ${row.event.id})`)
      return
    }
    if (this.hashOf(row) !== row.hash) {
      this.classifyBadHash(row, prev, next)
      return
    }
    const expected = prev ? prev.seq + 1 : row.seq
    if (row.seq > expected) {
      const missing = row.seq - 1 === expected ? `seq ${expected} is` : `seq ${expected}..${row.seq - 1} are`
      this.fail(expected, 'deleted', `${missing} missing`)
      return
    }
    if (prev && row.prev_hash !== prev.hash) {
      this.classifyBrokenLink(row, prev, next)
      return
    }
    this.matchCheckpoint(row)
    if (this.failure) return
    if (this.options.cut && marksCutComplete(this.options.cut, row)) this.cutCompleted = true
    this.prevprev = prev
    this.prev = { seq: row.seq, hash: row.hash }
    this.events += 1
  }

  private classifyBrokenLink(row: ChainRow, prev: Link, next: ChainRow | undefined): void {
    if (next && row.prev_hash === next.hash) {
      this.fail(row.seq, 'reordered', `seq ${row.seq} links to the event stored at seq ${next.seq}: events are out of order`)
    } else if (next && next.prev_hash === prev.hash) {
      this.fail(row.seq, 'inserted', `event ${row.event.id} at seq ${row.seq} is not part of the chain: its neighbours link to each other`)
    } else if (this.prevprev && row.prev_hash === this.prevprev.hash) {
      this.fail(prev.seq, 'inserted', `seq ${prev.seq} is not part of the chain: seq ${row.seq} links past it to seq ${this.prevprev.seq}`)
    } else {
      this.fail(row.seq, 'deleted', `the event before seq ${row.seq} is missing: its predecessor's hash is not stored`)
    }
  }

  /**
   * A row that does not hash from the predecessor it records. Where that predecessor is simply the
   * position before (PostgreSQL's link rows store one hash per event, not two), an insertion or a
   * swap shows only this way, so try the neighbours: hashing from the row two back means the row
   * before was put in; hashing from the next row means the two were swapped.
   */
  private classifyBadHash(row: ChainRow, prev: Link | undefined, next: ChainRow | undefined): void {
    if (prev && this.prevprev && this.hashFrom(this.prevprev.hash, row) === row.hash) {
      this.fail(prev.seq, 'inserted', `seq ${prev.seq} is not part of the chain: seq ${row.seq} hashes from seq ${this.prevprev.seq}`)
    } else if (next && next.seq === row.seq + 1 && this.hashFrom(next.hash, row) === row.hash) {
      this.fail(row.seq, 'reordered', `seq ${row.seq} hashes from the event stored at seq ${next.seq}: events are out of order`)
    } else {
      this.fail(row.seq, 'modified', `event ${row.event.id}: the stored hash does not match its content and predecessor`)
    }
  }

  /** The hash the row should carry, in the chain format it was written with. */
  private hashOf(row: ChainRow): string {
    return this.hashFrom(row.prev_hash, row)
  }

  private hashFrom(prevHash: string, row: ChainRow): string {
    if (row.seq < (this.options.v2FromSeq ?? 1)) return chainHashV1(prevHash, row.event)
    const version = canonicalVersionOf(row.canonical_version ?? CURRENT_CANONICAL_VERSION)
    // An unknown version matches no hash, so the row is reported as modified.
    return version === undefined ? '' : chainHash(prevHash, row.event, version)
  }

  private matchCheckpoint(row: ChainRow): void {
    const signed = this.options.checkpoints?.get(row.seq)
    if (signed === undefined) return
    if (signed === row.hash) this.checkpointsMatched += 1
    else this.fail(row.seq, 'modified', `seq ${row.seq} differs from the signed checkpoint (${signed.slice(0, 16)}…)`)
  }

  private fail(seq: number, problem: ChainBreak['problem'], detail: string): ChainBreak {
    this.failure ??= { tenant_id: this.options.tenant_id, seq, problem, detail }
    return this.failure
  }
}
