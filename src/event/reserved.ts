/**
 * Actions only auditq itself writes. The intake refuses them from every caller (SDK, HTTP, Workers):
 * a forged record of one of these would be read by auditq as its own.
 */

/**
 * The action of the event a retention run chains once its deletions are done. Verify reads it to
 * know a cut is complete, so a forged one could make verify flag a half-done run early.
 */
export const RETENTION_ACTION = 'audit.retention.cleanup'

/**
 * The action of the event `auditq erase` chains when it destroys a subject's key: the record that
 * the subject's personal values are gone. A forged one would claim an erasure that never happened.
 */
export const ERASURE_ACTION = 'auditq.erasure'

/**
 * A producer's accounting records (src/completeness/accounting.ts): a forged head or rejection
 * record could hide lost events from the completeness check.
 */
export const PRODUCER_HEAD_ACTION = 'auditq.producer.head'
export const PRODUCER_REJECTED_ACTION = 'auditq.producer.rejected'
/** Written by the queue worker when the store refuses a numbered event and it goes to the dead-letter queue. */
export const PRODUCER_DEAD_LETTERED_ACTION = 'auditq.producer.dead_lettered'
/** Written by `auditq dlq purge` for the numbered events it discards: dead-lettered, then deleted for good. */
export const PRODUCER_PURGED_ACTION = 'auditq.producer.purged'

/**
 * The namespace of auditq's record of access to the trail and of its own lifecycle (who read, who
 * exported, when the service started and stopped). A forged `auditq.*` event could put a read in
 * someone else's name or hide a stop between a fake start and a fake stop, so the whole prefix is
 * reserved, including names auditq does not write yet.
 */
export const RESERVED_PREFIX = 'auditq.'

/** Each reserved action with who alone may write it (the text of the refusal). */
export const RESERVED_ACTIONS: ReadonlyMap<string, string> = new Map([
  [RETENTION_ACTION, "auditq's own retention runs"],
  [ERASURE_ACTION, 'auditq erase'],
  [PRODUCER_HEAD_ACTION, "auditq's producers (their head records)"],
  [PRODUCER_REJECTED_ACTION, "auditq's producers (their rejection records)"],
  [PRODUCER_DEAD_LETTERED_ACTION, "auditq's queue workers (their dead-letter records)"],
  [PRODUCER_PURGED_ACTION, 'auditq dlq purge (its records of discarded dead letters)'],
])

/** Who alone may write `action`, or undefined when anyone may. */
export function reservedWriter(action: string): string | undefined {
  const named = RESERVED_ACTIONS.get(action)
  if (named) return named
  if (action.toLowerCase().startsWith(RESERVED_PREFIX)) return "auditq itself (the auditq.* namespace records access to the trail and auditq's own lifecycle)"
  return undefined
}
