/**
 * Before the worker moves events to the dead-letter queue, it records their producer numbers in
 * the store (`auditq.producer.dead_lettered`, src/completeness/accounting.ts), so the completeness
 * check names them "dead-lettered" rather than "missing". The record comes first: a worker killed
 * between the two leaves the entries pending, they are refused and recorded again (a duplicate the
 * check tolerates), and a number is never in the dead-letter queue without its record.
 */
import { deadLetterRecords } from '../completeness/accounting.js'
import type { AuditEvent } from '../event/types.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'

/**
 * - `recorded`: written (or nothing to write: no event was numbered); go on and dead-letter.
 * - `unavailable`: the store could not take the record now; keep the entries pending and retry
 *   with the batch, as for any write the store was not up for.
 * - `refused`: the store refused the record itself; dead-letter anyway (holding the entries would
 *   block nothing but them, for ever), and the numbers show as missing — visible, logged at error.
 */
export type DeadLetterAccounting = 'recorded' | 'unavailable' | 'refused'

export async function recordDeadLetters(store: Pick<Store, 'insertBatch' | 'classifyError'>, events: readonly AuditEvent[], error: string, logger: Logger, now = new Date()): Promise<DeadLetterAccounting> {
  const records = deadLetterRecords(events, error, now)
  if (records.length === 0) return 'recorded'
  try {
    await store.insertBatch(records)
    return 'recorded'
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    if (store.classifyError(cause) === 'data') {
      logger.error({ err_message: message, records: records.length }, 'dead-letter record refused by the store; the dead-lettered numbers will show as missing')
      return 'refused'
    }
    logger.warn({ err_message: message, records: records.length }, 'dead-letter record not written; the entries stay pending and are retried')
    return 'unavailable'
  }
}
