import { AuditqError } from '../errors.js'
import type { EventOutcome } from '../event/intake.js'
import type { AuditEvent } from '../event/types.js'
import type { InsertResult, Store } from './store.js'

export type { EventOutcome }

export interface IsolatingInsertReport {
  /** One outcome per input event, in input order. */
  outcomes: EventOutcome[]
  inserted: number
  duplicates: number
  /** Insert statements issued: 1 when the batch went in whole, more when it had to be split. */
  attempts: number
}

/** All the isolation needs of a store (the Cloudflare D1 writer supplies just these two). */
export type BatchInserter = Pick<Store, 'insertBatch' | 'classifyError'>

/**
 * Inserts a batch as one transaction; if the store refuses it for its *content* (`data` errors),
 * bisects until the offending events stand alone, so one bad event never takes its neighbours
 * down with it (Vector's Postgres sink fails the whole batch instead). A `transient` failure fails
 * the part being tried at once: splitting cannot help when the store is unreachable.
 *
 * Used by the SDK's group commit, queue workers and the Cloudflare queue consumer, so all isolate poison the same way.
 */
export function insertIsolating(store: BatchInserter, events: readonly AuditEvent[]): Promise<IsolatingInsertReport> {
  return isolating(store, events, (slice) => store.insertBatch(slice))
}

/** The same isolation for any batch `insert` takes (the queue worker's prepared events). */
export async function isolating<T>(store: Pick<Store, 'classifyError'>, events: readonly T[], insertBatch: (slice: T[]) => Promise<InsertResult>): Promise<IsolatingInsertReport> {
  const outcomes: EventOutcome[] = new Array(events.length)
  const report = { outcomes, inserted: 0, duplicates: 0, attempts: 0 }
  const insert = async (start: number, end: number): Promise<void> => {
    report.attempts += 1
    try {
      const result = await insertBatch(events.slice(start, end))
      report.inserted += result.inserted
      report.duplicates += result.duplicates
      outcomes.fill({ ok: true }, start, end)
    } catch (error) {
      if (store.classifyError(error) === 'data' && end - start > 1) {
        const middle = start + Math.ceil((end - start) / 2)
        await insert(start, middle)
        await insert(middle, end)
        return
      }
      outcomes.fill({ ok: false, error: toStoreError(store, error) }, start, end)
    }
  }
  if (events.length > 0) await insert(0, events.length)
  return report
}

function toStoreError(store: Pick<Store, 'classifyError'>, error: unknown): AuditqError {
  const reason = error instanceof Error ? error.message : String(error)
  return store.classifyError(error) === 'data'
    ? new AuditqError('AUDITQ_STORE_REJECTED', `the store refused this event: ${reason}`, { cause: error })
    : new AuditqError('AUDITQ_STORE_UNAVAILABLE', `the store is unavailable, event not stored: ${reason}`, { cause: error })
}
