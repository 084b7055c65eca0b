import { open, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { fsyncDir, writeAll } from './durable-fs.js'
import { SpillFullError, SpillWriteFailedError } from './errors.js'
import { SEGMENT_HEADER, SEGMENT_HEADER_BYTES } from './format.js'
import { segmentPath, type JournalUnit } from './journal-unit.js'
import { Mutex } from './mutex.js'

export interface SegmentWriterOptions {
  segmentBytes: number
  maxBytes: number
  /** 0: fsync as soon as the previous fsync returns. >0: wait this long first to gather more appends. */
  lingerMs: number
}

interface PendingAppend {
  records: Buffer
  events: number
  resolve(): void
  reject(error: unknown): void
}

/**
 * Appends framed records to the own journal's active segment with group commit: appends arriving
 * while an fsync runs queue up, and the next write + fdatasync covers all of them. So N concurrent
 * appenders cost about one fsync per round, not N (measurements in spill-journal.ts).
 */
export class SegmentWriter {
  /** The segment being appended to. */
  activeSegment: number
  /** Bytes of the active segment written, and the prefix of them known durable. */
  writtenEnd = SEGMENT_HEADER_BYTES
  syncedEnd = SEGMENT_HEADER_BYTES
  /** Held by whatever touches the active segment: a write round, a rollover, a drained-roll by replay. */
  readonly exclusive = new Mutex()

  private queue: PendingAppend[] = []
  private queuedBytes = 0
  private flushing: Promise<void> | null = null
  private failure: SpillWriteFailedError | null = null

  private constructor(
    private readonly unit: JournalUnit,
    private readonly options: SegmentWriterOptions,
    private handle: FileHandle,
    firstSegment: number,
  ) {
    this.activeSegment = firstSegment
  }

  static async start(unit: JournalUnit, options: SegmentWriterOptions): Promise<SegmentWriter> {
    const handle = await createSegment(unit, 1)
    return new SegmentWriter(unit, options, handle, 1)
  }

  /** Bytes counted against maxBytes: segment files on disk plus appends not yet written. */
  usedBytes(): number {
    let onDisk = 0
    for (const size of this.unit.segments.values()) onDisk += size
    return onDisk + this.queuedBytes
  }

  /** Resolves once `records` are fsynced. Throws SpillFullError (nothing written) when over maxBytes. */
  append(records: Buffer, events: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    const used = this.usedBytes()
    if (used + records.length > this.options.maxBytes) {
      return Promise.reject(
        new SpillFullError({ usedBytes: used, neededBytes: records.length, maxBytes: this.options.maxBytes }),
      )
    }
    this.queuedBytes += records.length
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, events, resolve, reject })
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
    await this.exclusive.run(() => this.handle.close())
  }

  /** Seals the active segment and starts the next one. Call inside `exclusive`. */
  async roll(): Promise<void> {
    // Every byte of the old segment is already fsynced: a round syncs before it rolls.
    await this.handle.close()
    this.handle = await createSegment(this.unit, this.activeSegment + 1)
    this.activeSegment += 1
    this.writtenEnd = SEGMENT_HEADER_BYTES
    this.syncedEnd = SEGMENT_HEADER_BYTES
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
      try {
        if (this.failure) throw this.failure
        await this.exclusive.run(() => this.writeRound(round))
        for (const pending of round) pending.resolve()
      } catch (error) {
        this.failure ??= error instanceof SpillWriteFailedError ? error : new SpillWriteFailedError(error)
        for (const pending of round) pending.reject(this.failure)
      }
    }
  }

  /** Writes one round, rolling to a new segment where the next append would not fit. */
  private async writeRound(round: PendingAppend[]): Promise<void> {
    let part: PendingAppend[] = []
    let partBytes = 0
    for (const pending of round) {
      const end = this.writtenEnd + partBytes
      if (end > SEGMENT_HEADER_BYTES && end + pending.records.length > this.options.segmentBytes) {
        await this.writePart(part, partBytes)
        await this.roll()
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
    await writeAll(this.handle, Buffer.concat(part.map((p) => p.records), bytes), this.writtenEnd)
    this.writtenEnd += bytes
    this.unit.segments.set(this.activeSegment, this.writtenEnd)
    this.queuedBytes -= bytes
    // fdatasync also flushes the file size, which a reader needs to find the appended bytes.
    await this.handle.datasync()
    this.syncedEnd = this.writtenEnd
    for (const pending of part) {
      this.unit.events += pending.events
      this.unit.bytes += pending.records.length
    }
  }
}

/** Creates a segment durably, name included, before any record in it can be acknowledged. */
async function createSegment(unit: JournalUnit, seq: number): Promise<FileHandle> {
  const handle = await open(segmentPath(unit, seq), 'wx')
  try {
    await writeAll(handle, SEGMENT_HEADER, 0)
    await handle.datasync()
    await fsyncDir(unit.dir)
  } catch (error) {
    await handle.close()
    throw error
  }
  unit.segments.set(seq, SEGMENT_HEADER_BYTES)
  return handle
}
