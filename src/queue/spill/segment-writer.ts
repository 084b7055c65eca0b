import { open, truncate, unlink, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { fsyncDir, preallocateCheckpoint, writeAll, type Checkpoint } from './durable-fs.js'
import { errnoOf, SpillFullError, SpillWriteFailedError } from './errors.js'
import { SEGMENT_HEADER, SEGMENT_HEADER_BYTES } from './format.js'
import { segmentPath, type JournalUnit } from './journal-unit.js'
import { Mutex } from './mutex.js'

export interface SegmentWriterOptions {
  segmentBytes: number
  maxBytes: number
  /** 0: fsync as soon as the previous fsync returns. >0: wait this long first to gather more appends. */
  lingerMs: number
  /**
   * After a failed write the next attempt waits this long, doubling with each failure in a row up
   * to `retryMaxMs`: a full disk is tried again soon after space returns, but not hammered.
   */
  retryMinMs: number
  retryMaxMs: number
}

/** Why the journal refuses appends right now. */
export interface WriteFailure {
  /** The cause's code: ENOSPC, EIO, EDQUOT… */
  errno: string
  message: string
  /** First failure of the current run of failures (ms since epoch). */
  since: number
  /** Failed attempts in a row. */
  attempts: number
  /** No write is attempted before this (ms since epoch). */
  retryAt: number
}

interface PendingAppend {
  records: Buffer
  events: number
  /** Fsynced: acknowledged even if a later part of its round fails. */
  synced: boolean
  resolve(): void
  reject(error: unknown): void
}

/**
 * Appends framed records to the own journal's active segment with group commit: appends arriving
 * while an fsync runs queue up, and the next write + fdatasync covers all of them. So N concurrent
 * appenders cost about one fsync per round, not N (measurements in spill-journal.ts).
 *
 * A failed write or fsync seals the active segment at its last fsynced byte (truncating the rest,
 * which frees space and needs none) and closes it; appends are refused with SpillWriteFailedError
 * until the backoff passes, and the next append then starts a fresh segment. The segment file is
 * created lazily, by the first append after open, a failure or a drain, so opening a journal on a
 * full disk works (it can still replay what dead producers left).
 */
export class SegmentWriter {
  /** The segment being appended to, or (no open file) the last one used; 0 before the first. */
  activeSegment = 0
  /** Bytes of the active segment written, and the prefix of them known durable. */
  writtenEnd = SEGMENT_HEADER_BYTES
  syncedEnd = SEGMENT_HEADER_BYTES
  /** Held by whatever touches the active segment: a write round, a rollover, a drain by replay. */
  readonly exclusive = new Mutex()

  private handle: FileHandle | null = null
  private queue: PendingAppend[] = []
  private queuedBytes = 0
  private flushing: Promise<void> | null = null
  private failure: { state: WriteFailure; error: SpillWriteFailedError } | null = null

  constructor(
    private readonly unit: JournalUnit,
    private readonly options: SegmentWriterOptions,
  ) {}

  /** Starts the first segment now, so a disk that cannot take one shows as refusing from the start. */
  prepare(): Promise<void> {
    return this.exclusive.run(async () => {
      try {
        await this.openNextSegment()
      } catch (error) {
        this.recordFailure(error)
      }
    })
  }

  /**
   * While refusing and past the backoff: tries to start a fresh segment, so the refusal (and its
   * health finding) ends when space returns even if no event needs spilling meanwhile.
   */
  retryIfDue(): Promise<void> {
    if (!this.failure || Date.now() < this.failure.state.retryAt) return Promise.resolve()
    return this.exclusive.run(async () => {
      if (!this.failure || this.handle || Date.now() < this.failure.state.retryAt) return
      try {
        await this.openNextSegment()
        this.failure = null
      } catch (error) {
        this.recordFailure(error)
      }
    })
  }

  /** Bytes counted against maxBytes: segment files on disk plus appends not yet written. */
  usedBytes(): number {
    let onDisk = 0
    for (const size of this.unit.segments.values()) onDisk += size
    return onDisk + this.queuedBytes
  }

  /** Null while appends are accepted; else why not, and when the next attempt may be made. */
  failureState(): WriteFailure | null {
    return this.failure ? { ...this.failure.state } : null
  }

  /** Resolves once `records` are fsynced. Throws SpillFullError (nothing written) when over maxBytes. */
  append(records: Buffer, events: number): Promise<void> {
    if (this.failure && Date.now() < this.failure.state.retryAt) return Promise.reject(this.failure.error)
    const used = this.usedBytes()
    if (used + records.length > this.options.maxBytes) {
      return Promise.reject(
        new SpillFullError({ usedBytes: used, neededBytes: records.length, maxBytes: this.options.maxBytes }),
      )
    }
    this.queuedBytes += records.length
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, events, synced: false, resolve, reject })
      this.startFlushing()
    })
  }

  /** Waits until every append made so far has settled. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  /** Closes the active segment's file after the queued appends are written. */
  async close(): Promise<void> {
    await this.drain()
    await this.exclusive.run(async () => {
      await this.handle?.close()
      this.handle = null
    })
  }

  /**
   * Replay delivered everything up to `position`: if that is the whole active segment, closes and
   * deletes it, so a drained journal gives its disk back now (a full disk needs exactly that) and
   * needs no free space to do so. The next append starts a fresh segment.
   */
  releaseIfDrained(position: Checkpoint | undefined): Promise<void> {
    return this.exclusive.run(async () => {
      const drained = this.activeSegment
      if (position?.segment !== drained || position.offset !== this.syncedEnd || this.writtenEnd !== this.syncedEnd) return
      if (!this.unit.segments.has(drained)) return
      // An open, empty segment is kept: deleting it would only be recreated by the next append.
      if (this.handle && this.writtenEnd === SEGMENT_HEADER_BYTES) return
      await this.handle?.close()
      this.handle = null
      await unlink(segmentPath(this.unit, drained))
      this.unit.segments.delete(drained)
    })
  }

  private startFlushing(): void {
    if (this.flushing) return
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null
      // An append that arrived after the loop's last look must not wait for the next append.
      if (this.queue.length > 0) this.startFlushing()
    })
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.options.lingerMs > 0) await sleep(this.options.lingerMs)
      const round = this.queue.splice(0)
      // Queued before the failure that started this backoff: refused without touching the disk.
      if (this.failure && Date.now() < this.failure.state.retryAt) {
        this.settle(round, this.failure.error)
        continue
      }
      try {
        await this.exclusive.run(() => this.writeRoundOrSeal(round))
        this.failure = null
        this.settle(round, undefined)
      } catch (error) {
        this.settle(round, this.recordFailure(error))
      }
    }
  }

  private settle(round: PendingAppend[], error: SpillWriteFailedError | undefined): void {
    for (const pending of round) {
      if (pending.synced) pending.resolve()
      else {
        this.queuedBytes -= pending.records.length
        if (error) pending.reject(error)
        else pending.resolve() // unreachable: a round without error synced every append
      }
    }
  }

  private recordFailure(cause: unknown): SpillWriteFailedError {
    const now = Date.now()
    const attempts = (this.failure?.state.attempts ?? 0) + 1
    const delay = Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** Math.min(attempts - 1, 20))
    const error = new SpillWriteFailedError(cause, { dir: this.unit.dir, retryInMs: delay })
    this.failure = {
      error,
      state: {
        errno: errnoOf(cause),
        message: (cause as Error)?.message ?? String(cause),
        since: this.failure?.state.since ?? now,
        attempts,
        retryAt: now + delay,
      },
    }
    return error
  }

  private async writeRoundOrSeal(round: PendingAppend[]): Promise<void> {
    try {
      await this.writeRound(round)
    } catch (error) {
      await this.seal()
      throw error
    }
  }

  /** Writes one round, rolling to a new segment where the next append would not fit. */
  private async writeRound(round: PendingAppend[]): Promise<void> {
    if (!this.handle) await this.openNextSegment()
    let part: PendingAppend[] = []
    let partBytes = 0
    for (const pending of round) {
      const end = this.writtenEnd + partBytes
      if (end > SEGMENT_HEADER_BYTES && end + pending.records.length > this.options.segmentBytes) {
        await this.writePart(part, partBytes)
        // Every byte of the old segment is fsynced by now: writePart syncs before it returns.
        await this.handle!.close()
        this.handle = null
        await this.openNextSegment()
        part = []
        partBytes = 0
      }
      part.push(pending)
      partBytes += pending.records.length
    }
    await this.writePart(part, partBytes)
  }

  private async writePart(part: PendingAppend[], bytes: number): Promise<void> {
    if (bytes === 0) return
    await writeAll(this.handle!, Buffer.concat(part.map((p) => p.records), bytes), this.writtenEnd)
    this.writtenEnd += bytes
    this.unit.segments.set(this.activeSegment, this.writtenEnd)
    // fdatasync also flushes the file size, which a reader needs to find the appended bytes.
    await this.handle!.datasync()
    this.syncedEnd = this.writtenEnd
    for (const pending of part) {
      pending.synced = true
      this.queuedBytes -= pending.records.length
      this.unit.events += pending.events
      this.unit.bytes += pending.records.length
    }
  }

  /**
   * Starts the next segment. The first one of a journal also gets the checkpoint file, preallocated
   * at its full size, so replay never needs free space to record its position.
   */
  private async openNextSegment(): Promise<void> {
    const seq = this.activeSegment + 1
    await preallocateCheckpoint(this.unit.dir, { segment: seq, offset: SEGMENT_HEADER_BYTES })
    this.handle = await createSegment(this.unit, seq)
    this.activeSegment = seq
    this.writtenEnd = SEGMENT_HEADER_BYTES
    this.syncedEnd = SEGMENT_HEADER_BYTES
  }

  /**
   * After a failed write or fsync: closes the active segment and cuts it back to its last fsynced
   * byte. What lies beyond was never acknowledged and, after a failed fsync, cannot be trusted.
   */
  private async seal(): Promise<void> {
    const handle = this.handle
    this.handle = null
    await handle?.close().catch(() => undefined)
    if (!this.unit.segments.has(this.activeSegment)) return
    this.unit.segments.set(this.activeSegment, this.syncedEnd)
    this.writtenEnd = this.syncedEnd
    // Best effort: replay reads only up to the recorded size anyway.
    await truncate(segmentPath(this.unit, this.activeSegment), this.syncedEnd).catch(() => undefined)
  }
}

/** Creates a segment durably, name included, before any record in it can be acknowledged. */
async function createSegment(unit: JournalUnit, seq: number): Promise<FileHandle> {
  const file = segmentPath(unit, seq)
  const handle = await open(file, 'wx')
  try {
    await writeAll(handle, SEGMENT_HEADER, 0)
    await handle.datasync()
    await fsyncDir(unit.dir)
  } catch (error) {
    await handle.close().catch(() => undefined)
    // So the next attempt can create it afresh ('wx'); an empty or partial header holds no record.
    await unlink(file).catch(() => undefined)
    throw error
  }
  unit.segments.set(seq, SEGMENT_HEADER_BYTES)
  return handle
}
