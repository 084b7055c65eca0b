import { AuditqError } from '../../errors.js'

/**
 * Raised when Redis did not confirm an enqueue (connection lost, timeout, OOM, script error): an
 * AuditqError with code `AUDITQ_QUEUE_UNAVAILABLE` (503, with Retry-After over HTTP), plus the ids
 * Redis did confirm.
 */
export class QueueUnavailableError extends AuditqError {
  /**
   * Event ids Redis confirmed before the failure (a bulk call spanning several script calls can
   * half-succeed). Unconfirmed events may or may not be in Redis — the reply may be what was lost —
   * so re-sending them is the safe move: the store is idempotent on event id.
   */
  readonly enqueued: string[]

  constructor(message: string, options: { cause: unknown; enqueued?: string[] }) {
    super('AUDITQ_QUEUE_UNAVAILABLE', message, { cause: options.cause })
    this.name = 'QueueUnavailableError'
    this.enqueued = options.enqueued ?? []
  }
}
