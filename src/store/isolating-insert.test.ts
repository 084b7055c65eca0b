import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { insertIsolating } from './isolating-insert.js'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

describe.each(kinds)('isolating insert on the %s store', (kind) => {
  let t: TestStore
  afterEach(async () => t?.dispose())

  it('stores every neighbour of an event the database refuses, and fails only that one', async () => {
    t = await freshStore(kind)
    // The validator would never let this through; the database's CHECK constraint is the last wall.
    const poison = storedEvent({ category: 'bogus' as AuditEvent['category'] })
    const events = Array.from({ length: 50 }, (_, i) => (i === 31 ? poison : storedEvent({ action: 'neighbour' })))
    const report = await insertIsolating(t.store, events)
    expect(report.inserted).toBe(49)
    expect(report.outcomes.filter((o) => !o.ok)).toHaveLength(1)
    const failed = report.outcomes[31]!
    expect(failed.ok ? null : failed.error.code).toBe('AUDITQ_STORE_REJECTED')
    expect((await t.store.query({ action: 'neighbour' }, { limit: 100 })).events).toHaveLength(49)
    // Bisection costs about 2·log2(n) extra statements, not one per event.
    expect(report.attempts).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(50)))
  })

  it('fails the whole batch at once, without splitting, when the store is unreachable', async () => {
    t = await freshStore(kind)
    await t.store.close()
    const report = await insertIsolating(t.store, Array.from({ length: 20 }, () => storedEvent()))
    expect(report.attempts).toBe(1)
    expect(report.outcomes.every((o) => !o.ok && o.error.code === 'AUDITQ_STORE_UNAVAILABLE')).toBe(true)
  })
})
