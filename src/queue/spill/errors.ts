/**
 * Raised by `SpillJournal.append` when the events would take the journal past `maxBytes`. Nothing
 * of the call was written: the caller decides (count the events as dropped, or write critical ones
 * straight to the store). Stand-in until the error catalog (`src/errors.ts`) gains
 * `AUDITQ_SPILL_FULL` (503); it already carries that code so callers can switch on `code` today.
 */
export class SpillFullError extends Error {
  readonly code = 'AUDITQ_SPILL_FULL'
  readonly statusCode = 503
  /** Bytes the journal holds or is writing, and the bytes this call needed on top. */
  readonly usedBytes: number
  readonly neededBytes: number
  readonly maxBytes: number

  constructor(options: { usedBytes: number; neededBytes: number; maxBytes: number }) {
    super(
      `spill journal is full: ${options.usedBytes} of ${options.maxBytes} bytes used, ${options.neededBytes} more needed`,
    )
    this.name = 'SpillFullError'
    this.usedBytes = options.usedBytes
    this.neededBytes = options.neededBytes
    this.maxBytes = options.maxBytes
  }
}

/**
 * Raised by every `append` after a write or fsync of the journal failed. Fail-stop on purpose: after
 * a failed fsync Linux may have dropped the dirty pages, so nothing written since the last good
 * fsync can be trusted, and carrying on would acknowledge events on top of a hole. Close the
 * journal and open a new one; the old one's acknowledged records are replayed as usual.
 */
export class SpillWriteFailedError extends Error {
  readonly code = 'AUDITQ_SPILL_FAILED'
  readonly statusCode = 503

  constructor(cause: unknown) {
    super(`spill journal write failed and the journal is now read-only: ${(cause as Error)?.message ?? cause}`, {
      cause,
    })
    this.name = 'SpillWriteFailedError'
  }
}
