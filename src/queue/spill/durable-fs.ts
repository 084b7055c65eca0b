import { open, readFile, rename, type FileHandle } from 'node:fs/promises'
import path from 'node:path'

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

export async function writeCheckpoint(journalDir: string, checkpoint: Checkpoint): Promise<void> {
  await replaceFileDurably(
    path.join(journalDir, CHECKPOINT_FILE),
    JSON.stringify({ version: 1, segment: checkpoint.segment, offset: checkpoint.offset }),
  )
}

/**
 * The journal's replay position; undefined when there is none yet, or when it cannot be read — the
 * rename makes that a disk fault, and restarting from the oldest segment can only duplicate events
 * (the store is idempotent on id), never lose one.
 */
export async function readCheckpoint(journalDir: string): Promise<Checkpoint | undefined> {
  const text = await readTextIfExists(path.join(journalDir, CHECKPOINT_FILE))
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text) as Partial<Checkpoint>
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
