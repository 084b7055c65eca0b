/**
 * `auditq dlq purge`: deletes dead letters for good, and first records what it discards. Each
 * numbered event's producer number goes into an `auditq.producer.purged` record (per tenant and
 * producer, with the error that dead-lettered it), so the completeness check reads it as purged —
 * accounted for, then discarded by an operator — not as dead-lettered (waiting) or missing.
 * Record first, delete second, a page at a time: a purge that stops between the two leaves letters
 * that are recorded as purged but still there (a second purge records them again, which the check
 * tolerates), never a number deleted without its record.
 */
import { purgedRecords } from '../completeness/accounting.js'
import type { DeadLetter, DeadLetterQueue } from '../queue/redis-streams/dead-letters.js'
import type { Store } from '../store/store.js'

/** Letters read, recorded and deleted per round. */
const PAGE = 500

export interface PurgeResult {
  /** Dead letters deleted. */
  purged: number
  /** Of those, numbered events whose numbers were recorded as purged. */
  numbered: number
  /** Of those, payloads that were not an event (nothing to record: no producer number is known). */
  undecodable: number
  /** `--all` stopped at a page it listed but could not delete, and letters are still listed (`auditq dlq list`). */
  stalled: boolean
}

export async function purgeDeadLetters(options: {
  /** One shard's dead letters, or every shard's. */
  queue: Pick<DeadLetterQueue, 'list' | 'get' | 'purge'>
  store: Pick<Store, 'insertBatch'>
  /** Dead-letter ids, or every letter. */
  ids: readonly string[] | 'all'
  now?: () => Date
  onPage?: (purged: number) => void
}): Promise<PurgeResult> {
  const { queue, store } = options
  const result: PurgeResult = { purged: 0, numbered: 0, undecodable: 0, stalled: false }
  const purgePage = async (letters: readonly DeadLetter[]): Promise<number> => {
    const events = letters.flatMap((letter) => (letter.event ? [{ event: letter.event, error: letter.error }] : []))
    const records = purgedRecords(events, (options.now ?? (() => new Date()))())
    // Throws when the store cannot take them: the command fails and nothing of this page is deleted.
    if (records.length > 0) await store.insertBatch(records)
    const deleted = await queue.purge(letters.map((letter) => letter.id))
    result.purged += deleted
    result.numbered += events.filter(({ event }) => typeof event.producer_id === 'string' && typeof event.producer_seq === 'number').length
    result.undecodable += letters.length - events.length
    options.onPage?.(deleted)
    return deleted
  }
  if (options.ids === 'all') {
    // Page from the start each time: purged letters leave the stream.
    for (;;) {
      const { deadLetters } = await queue.list({ limit: PAGE })
      if (deadLetters.length === 0) break
      // A page listed but not deleted (another purge took it meanwhile, say) would be listed, and
      // recorded, again forever: stop instead; what is left shows in `auditq dlq list`.
      if ((await purgePage(deadLetters)) === 0) {
        result.stalled = (await queue.list({ limit: 1 })).deadLetters.length > 0
        break
      }
    }
  } else {
    for (let i = 0; i < options.ids.length; i += PAGE) {
      const found = await Promise.all(options.ids.slice(i, i + PAGE).map((id) => queue.get(id)))
      await purgePage(found.filter((letter): letter is DeadLetter => letter !== null))
    }
  }
  return result
}
