import { open, readFile, rename, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { crc32 } from 'node:zlib'

/**
 * Makes a directory's entries (files created, renamed or removed in it) survive a crash. Without it
 * a file whose data was fsynced can still vanish with its name after a power loss.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done)
    done += bytesWritten
  }
}

/** Replaces `file` atomically: a crash leaves either the old content or the new, never a mix. */
export async function replaceFileDurably(file: string, data: string | Buffer): Promise<void> {
  const temp = `${file}.tmp`
  const handle = await open(temp, 'w')
  try {
    await writeAll(handle, typeof data === 'string' ? Buffer.from(data) : data, 0)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, file)
  await fsyncDir(path.dirname(file))
}

/** Everything before byte `offset` of segment `segment` (and every older segment) was delivered. */
export interface Checkpoint {
  segment: number
  offset: number
}

export const CHECKPOINT_FILE = 'checkpoint'

/*
 * The checkpoint is a fixed-size file created once, when the journal gets its first segment, and
 * afterwards only overwritten in place: moving it needs no free space, so replay can acknowledge
 * what it delivered on a full disk (a write-temp-and-rename needs a fresh block each time, and on
 * a full disk it failed after every batch while the batch itself had already gone out).
 *
 * Two slots of CHECKPOINT_SLOT_BYTES (one disk sector each, so a torn write damages at most the slot
 * being written); each holds magic, a sequence number, the position and a CRC-32. A write goes to
 * the slot not holding the newest valid position; a read takes the valid slot with the highest
 * sequence. A torn or lost write therefore leaves the previous position, which only replays a
 * batch again (the store is idempotent on id), never skips one.
 *
 * Limit: on copy-on-write filesystems (btrfs, ZFS) an overwrite needs a free block too; there the
 * in-memory position (see replay.ts) keeps replay going and the failure is reported.
 */
const CHECKPOINT_SLOT_BYTES = 512
const CHECKPOINT_FILE_BYTES = 2 * CHECKPOINT_SLOT_BYTES
const CHECKPOINT_MAGIC = 0x31434b41 // 'AKC1' little-endian
const SLOT_BODY_BYTES = 28

interface Slot extends Checkpoint {
  seq: number
}

function encodeSlot(slot: Slot): Buffer {
  const buf = Buffer.alloc(CHECKPOINT_SLOT_BYTES)
  buf.writeUInt32LE(CHECKPOINT_MAGIC, 0)
  buf.writeBigUInt64LE(BigInt(slot.seq), 4)
  buf.writeBigUInt64LE(BigInt(slot.segment), 12)
  buf.writeBigUInt64LE(BigInt(slot.offset), 20)
  buf.writeUInt32LE(crc32(buf.subarray(0, SLOT_BODY_BYTES)), SLOT_BODY_BYTES)
  return buf
}

function decodeSlot(buf: Buffer): Slot | undefined {
  if (buf.length < SLOT_BODY_BYTES + 4 || buf.readUInt32LE(0) !== CHECKPOINT_MAGIC) return undefined
  if (crc32(buf.subarray(0, SLOT_BODY_BYTES)) !== buf.readUInt32LE(SLOT_BODY_BYTES)) return undefined
  const [seq, segment, offset] = [4, 12, 20].map((at) => Number(buf.readBigUInt64LE(at)))
  if (![seq, segment, offset].every((n) => Number.isSafeInteger(n))) return undefined
  return { seq: seq!, segment: segment!, offset: offset! }
}

function newestSlot(image: Buffer): { slot: Slot; index: number } | undefined {
  let best: { slot: Slot; index: number } | undefined
  for (const index of [0, 1]) {
    const slot = decodeSlot(image.subarray(index * CHECKPOINT_SLOT_BYTES, (index + 1) * CHECKPOINT_SLOT_BYTES))
    if (slot && (!best || slot.seq > best.slot.seq)) best = { slot, index }
  }
  return best
}

/**
 * Creates the checkpoint file at its full size, holding `initial`, unless it exists. The one step
 * that needs free space; done before any record of the journal is acknowledged.
 */
export async function preallocateCheckpoint(journalDir: string, initial: Checkpoint): Promise<void> {
  const file = path.join(journalDir, CHECKPOINT_FILE)
  try {
    await stat(file)
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const image = Buffer.alloc(CHECKPOINT_FILE_BYTES)
  encodeSlot({ seq: 1, ...initial }).copy(image, 0)
  await replaceFileDurably(file, image)
}

/**
 * Moves the journal's replay position by overwriting the older slot in place (no free space
 * needed). A journal without the file (one written before this format) gets it created, which does
 * need space; a file in the earlier JSON format is overwritten in place with the slot layout.
 */
export async function writeCheckpoint(journalDir: string, checkpoint: Checkpoint): Promise<void> {
  const file = path.join(journalDir, CHECKPOINT_FILE)
  let handle: FileHandle
  try {
    handle = await open(file, 'r+')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    return preallocateCheckpoint(journalDir, checkpoint)
  }
  try {
    const image = Buffer.alloc(CHECKPOINT_FILE_BYTES)
    await handle.read(image, 0, CHECKPOINT_FILE_BYTES, 0)
    const newest = newestSlot(image)
    const index = newest ? 1 - newest.index : 0
    const slot = encodeSlot({ seq: (newest?.slot.seq ?? 0) + 1, ...checkpoint })
    // Without a valid slot (the JSON format, or damage) both slots are written: the other one must
    // not keep bytes that could decode as a newer position.
    const data = newest ? slot : Buffer.concat([slot, Buffer.alloc(CHECKPOINT_SLOT_BYTES)])
    await writeAll(handle, data, index * CHECKPOINT_SLOT_BYTES)
    await handle.datasync()
  } finally {
    await handle.close()
  }
}

/**
 * The journal's replay position; undefined when there is none yet, or when it cannot be read — a
 * torn slot leaves the other one, so that takes damage to both, and restarting from the oldest
 * segment can only duplicate events (the store is idempotent on id), never lose one.
 */
export async function readCheckpoint(journalDir: string): Promise<Checkpoint | undefined> {
  let image: Buffer
  try {
    image = await readFile(path.join(journalDir, CHECKPOINT_FILE))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const newest = newestSlot(image)
  if (newest) return { segment: newest.slot.segment, offset: newest.slot.offset }
  try {
    // The earlier format: `{"version":1,"segment":…,"offset":…}`, replaced by rename.
    const value = JSON.parse(image.toString('utf8')) as Partial<Checkpoint>
    if (Number.isSafeInteger(value.segment) && Number.isSafeInteger(value.offset)) {
      return { segment: value.segment!, offset: value.offset! }
    }
  } catch {
    // Unreadable: fall through to "replay from the start" (see above).
  }
  return undefined
}

/** The file's text, or undefined when there is no such file; any other failure is thrown. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
