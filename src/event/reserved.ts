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
 * The namespace of auditq's record of access to the trail and of its own lifecycle (who read, who
 * exported, when the service started and stopped). A forged `auditq.*` event could put a read in
 * someone else's name or hide a stop between a fake start and a fake stop, so the whole prefix is
 * reserved, including names auditq does not write yet.
 */
export const RESERVED_PREFIX = 'auditq.'

/** Each reserved action with who alone may write it (the text of the refusal). */
export const RESERVED_ACTIONS: ReadonlyMap<string, string> = new Map([[RETENTION_ACTION, "auditq's own retention runs"]])

/** Who alone may write `action`, or undefined when anyone may. */
export function reservedWriter(action: string): string | undefined {
  if (action.toLowerCase().startsWith(RESERVED_PREFIX)) return "auditq itself (the auditq.* namespace records access to the trail and auditq's own lifecycle)"
  return RESERVED_ACTIONS.get(action)
}
