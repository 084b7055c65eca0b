/**
 * Purging every dead letter pages from the start until none is left. A page that is listed but
 * not deleted (another purge removed it between the list and the delete) must end the purge, not
 * be listed, recorded and tried again forever. The dead-letter queue here is a stand-in that
 * keeps listing letters it never deletes; the real queue's purge is covered by test/dlq-purge-cli.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import type { DeadLetter } from '../queue/redis-streams/dead-letters.js'
import { storedEvent } from '../../test/support/events.js'
import { purgeDeadLetters } from './dlq-purge.js'

describe('purging every dead letter', () => {
  it('stops when a listed page is deleted by no one, having recorded it once', async () => {
    const letter: DeadLetter = {
      id: '1-0',
      sourceEntryId: '0-1',
      event: storedEvent({ producer_id: 'app-1', producer_seq: 7 }),
      payload: '{}',
      error: 'refused',
      attempts: 1,
      deadLetteredAt: new Date().toISOString(),
    }
    let lists = 0
    const recorded: AuditEvent[] = []
    const result = await purgeDeadLetters({
      queue: {
        async list() {
          if (++lists > 5) throw new Error('listed the same page again and again')
          return { deadLetters: [letter] } as Awaited<ReturnType<Parameters<typeof purgeDeadLetters>[0]['queue']['list']>>
        },
        async get() {
          return null
        },
        async purge() {
          return 0
        },
      },
      store: {
        async insertBatch(events) {
          recorded.push(...events)
          return { inserted: events.length, duplicates: 0 }
        },
      },
      ids: 'all',
    })
    expect(result.purged).toBe(0)
    expect(result.stalled).toBe(true)
    // One page, then one look whether anything is still listed (it is: the stand-in never deletes).
    expect(lists).toBe(2)
    expect(recorded).toHaveLength(1)
  })
})
