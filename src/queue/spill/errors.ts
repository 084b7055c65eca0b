import { AuditqError } from '../../errors.js'

/**
 * Raised by `SpillJournal.append` when the events would take the journal past `maxBytes`. Nothing
 * of the call was written: the caller decides (count the events as refused, or write critical ones
 * straight to the store). Carries the catalogued code, so it can go to a caller as it is.
 */
export class SpillFullError extends AuditqError {
  /** Bytes the journal holds or is writing, and the bytes this call needed on top. */
  readonly usedBytes: number
  readonly neededBytes: number
  readonly maxBytes: number

  constructor(options: { usedBytes: number; neededBytes: number; maxBytes: number }) {
    super(
      'AUDITQ_SPILL_FULL',
      `spill journal is full: ${options.usedBytes} of ${options.maxBytes} bytes used, ${options.neededBytes} more needed`,
    )
    this.name = 'SpillFullError'
    this.usedBytes = options.usedBytes
    this.neededBytes = options.neededBytes
    this.maxBytes = options.maxBytes
  }
}

/**
 * Raised by `append` when the journal could not write or fsync (ENOSPC, EIO, EDQUOT…), and by every
 * `append` while it waits before trying again. After a failed fsync Linux may have dropped the dirty
 * pages, so nothing written since the last good fsync is trusted: the segment is sealed at its last
 * fsynced byte and the next attempt starts a fresh segment. `errno` is the cause's code.
 */
export class SpillWriteFailedError extends AuditqError {
  readonly errno: string

  constructor(cause: unknown, options: { dir: string; retryInMs: number }) {
    const errno = errnoOf(cause)
    super(
      'AUDITQ_SPILL_FAILED',
      `spill journal write in ${options.dir} failed (${errno}: ${(cause as Error)?.message ?? cause}); ` +
        `events that need spilling are refused until a write succeeds (next attempt in ${Math.ceil(options.retryInMs)} ms)`,
      { cause },
    )
    this.name = 'SpillWriteFailedError'
    this.errno = errno
  }
}

/** A filesystem error's code (ENOSPC, EIO…), or the error's name when it has none. */
export function errnoOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && code.length > 0) return code
  return (error as Error | undefined)?.name ?? 'Error'
}
