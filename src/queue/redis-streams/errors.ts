/**
 * Raised when Redis did not confirm an enqueue (connection lost, timeout, OOM, script error).
 * Stand-in until the error catalog (`src/errors.ts`) gains `AUDITQ_QUEUE_UNAVAILABLE` (503); it
 * already carries that code so callers and tests can switch on `code` today.
 */
export class QueueUnavailableError extends Error {
  readonly code = 'AUDITQ_QUEUE_UNAVAILABLE'
  readonly statusCode = 503
  /**
   * Event ids Redis confirmed before the failure (a bulk call spanning several script calls can
   * half-succeed). Unconfirmed events may or may not be in Redis — the reply may be what was lost —
   * so re-sending them is the safe move: the store is idempotent on event id.
   */
  readonly enqueued: string[]

  constructor(message: string, options: { cause: unknown; enqueued?: string[] }) {
    super(message, { cause: options.cause })
    this.name = 'QueueUnavailableError'
    this.enqueued = options.enqueued ?? []
  }
}
