import { open, type FileHandle } from 'node:fs/promises'
import type { AuditEvent } from '../../event/types.js'
import { checkRecord, findMagic, RECORD_HEADER_BYTES, RECORD_MAGIC, type RecordCheck } from './format.js'

export type SegmentItem =
  | { kind: 'record'; event: AuditEvent; offset: number; end: number }
  /**
   * Bytes that are not intact records, from `offset` up to the next intact record (`end`), or up to
   * the read limit when none follows (`toLimit`): the shape of a torn tail, if this is the last
   * segment a dead writer wrote.
   */
  | { kind: 'damage'; offset: number; end: number; toLimit: boolean }

/** Reads ahead this much at a time, so memory stays flat whatever the segment size. */
const READ_CHUNK_BYTES = 1024 * 1024

/**
 * Yields the records of one segment file between byte offsets `start` and `limit`, oldest first,
 * and every damaged range between them. After damage it resumes at the very next intact record, so
 * a good record is never skipped because a neighbour was bad.
 */
export async function* readSegment(file: string, start: number, limit: number): AsyncGenerator<SegmentItem> {
  const handle = await open(file, 'r')
  try {
    // A file shorter than the caller's limit (a tail lost with a crash) ends where the file does.
    limit = Math.min(limit, (await handle.stat()).size)
    const window = new ReadWindow(handle, limit)
    let at = start
    while (at < limit) {
      const check = await window.checkAt(at)
      if (check.kind === 'record') {
        yield { kind: 'record', event: check.event, offset: at, end: at + check.bytes }
        at += check.bytes
        continue
      }
      const next = await window.nextRecordAfter(at)
      yield { kind: 'damage', offset: at, end: next ?? limit, toLimit: next === undefined }
      at = next ?? limit
    }
  } finally {
    await handle.close()
  }
}

/** A sliding view of a file's bytes in [0, limit): never reads past `limit`. */
class ReadWindow {
  private buf = Buffer.alloc(0)
  private base = 0

  constructor(
    private readonly handle: FileHandle,
    private readonly limit: number,
  ) {}

  /** Whether an intact record starts at `at`; a record reaching past `limit` is not intact. */
  async checkAt(at: number): Promise<Exclude<RecordCheck, { kind: 'short' }>> {
    let need = RECORD_HEADER_BYTES
    for (;;) {
      const check = checkRecord(await this.view(at, need))
      if (check.kind !== 'short') return check
      if (at + check.needBytes > this.limit) return { kind: 'bad' }
      need = check.needBytes
    }
  }

  /** Offset of the first intact record after `at`, or undefined when none starts before `limit`. */
  async nextRecordAfter(at: number): Promise<number | undefined> {
    let from = at + 1
    while (from < this.limit) {
      const view = await this.view(from, READ_CHUNK_BYTES)
      const hit = findMagic(view, 0)
      if (hit === -1) {
        if (from + view.length >= this.limit) return undefined
        // Keep the last bytes: a magic may straddle the edge of this view.
        from += Math.max(1, view.length - (RECORD_MAGIC.length - 1))
        continue
      }
      if ((await this.checkAt(from + hit)).kind === 'record') return from + hit
      from += hit + 1
    }
    return undefined
  }

  /** Bytes from `at`: at least `want` of them unless `limit` comes first. */
  private async view(at: number, want: number): Promise<Buffer> {
    const end = Math.min(this.limit, at + want)
    if (at < this.base || end > this.base + this.buf.length) await this.load(at, Math.max(want, READ_CHUNK_BYTES))
    return this.buf.subarray(at - this.base)
  }

  private async load(at: number, size: number): Promise<void> {
    const length = Math.min(size, this.limit - at)
    const buf = Buffer.allocUnsafe(length)
    let filled = 0
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buf, filled, length - filled, at + filled)
      // The limit is clamped to the file size, so only a file truncated under our feet ends early.
      if (bytesRead === 0) throw new Error(`spill segment shrank while being read (at byte ${at + filled})`)
      filled += bytesRead
    }
    this.buf = buf
    this.base = at
  }
}
