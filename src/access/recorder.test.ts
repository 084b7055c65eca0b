/**
 * The access recorder over a real embedded store: the first read is stored at once, identical
 * reads within the window become one aggregate event with their count and first/last time, other
 * reads and other kinds are never folded, and a store that refuses is never silent.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { isAuditqError } from '../errors.js'
import { createLogger } from '../util/logger.js'
import { freshStore, type TestStore } from '../../test/support/app.js'
import type { AccessRecord } from './access-event.js'
import { AccessRecorder } from './recorder.js'

const logger = createLogger({ level: 'silent' })
const read = (what: Record<string, unknown>, overrides: Partial<AccessRecord> = {}): AccessRecord => ({
  kind: 'query',
  actor: { kind: 'api_key', id: 'k1', name: 'dashboard' },
  tenant: 'acme',
  what,
  from: { ip: '10.1.2.3', requestId: 'r1' },
  ...overrides,
})

describe('AccessRecorder', () => {
  let opened: TestStore | undefined
  afterEach(async () => opened?.dispose())

  async function trail() {
    const { events } = await opened!.store.query({}, { limit: 100 })
    return events.filter((event) => event.action.startsWith('auditq.')).reverse()
  }

  it('stores the first read at once and folds identical reads of the window into one aggregate with count and first/last time', async () => {
    opened = await freshStore('embedded')
    let clock = Date.parse('2026-06-01T12:00:00.000Z')
    const recorder = new AccessRecorder({ write: (events) => opened!.store.insertBatch(events), windowMs: 60_000, systemTenant: 'auditq', logger, now: () => clock })
    await recorder.record(read({ action: 'login' }))
    expect(await trail()).toHaveLength(1)
    for (let i = 0; i < 29; i++) {
      clock += 2_000
      await recorder.record(read({ action: 'login' }))
    }
    await recorder.record(read({ action: 'logout' })) // another filter: its own event
    await recorder.record(read({ action: 'login' }, { from: { ip: '10.9.9.9' } })) // from elsewhere: its own event
    await recorder.record({ kind: 'hold.create', actor: { kind: 'cli', id: 'cli:ops' }, tenant: 'acme', what: { reason: 'x' } })
    await recorder.record({ kind: 'hold.create', actor: { kind: 'cli', id: 'cli:ops' }, tenant: 'acme', what: { reason: 'x' } }) // never folded
    expect(recorder.stats()).toMatchObject({ aggregated: 29, pending: 1, failed: 0 })
    expect(await trail()).toHaveLength(5)
    clock += 60_000
    await recorder.close()
    const events = await trail()
    expect(events).toHaveLength(6)
    const first = events[0]!
    expect(first).toMatchObject({
      tenant_id: 'auditq',
      resource_id: 'acme',
      action: 'auditq.query',
      actor_id: 'k1',
      actor_type: 'api_key',
      ip_address: '10.1.2.3',
      request_id: 'r1',
      metadata: { key_name: 'dashboard', what: { action: 'login' } },
    })
    expect(first.metadata['aggregated']).toBeUndefined()
    const aggregate = events.find((event) => event.metadata['aggregated'] !== undefined)!
    expect(aggregate.metadata).toMatchObject({
      what: { action: 'login' },
      aggregated: { count: 29, first_at: '2026-06-01T12:00:02.000Z', last_at: '2026-06-01T12:00:58.000Z', window_ms: 60_000 },
    })
    expect(events.filter((event) => event.action === 'auditq.hold.create')).toHaveLength(2)
    expect(await opened.store.integrity!.snapshot(async (s) => (await s.heads()).map((h) => [h.tenant_id, h.seq]))).toEqual([['auditq', 6]])
  })

  it('opens a new window for a read that finds its window run out before the sweep came, instead of writing every read until then', async () => {
    opened = await freshStore('embedded')
    let clock = Date.parse('2026-06-01T12:00:00.000Z')
    // An hour-long window: the sweep's timer never fires during the test, as when reads come faster than it.
    const recorder = new AccessRecorder({ write: (events) => opened!.store.insertBatch(events), windowMs: 3_600_000, systemTenant: 'auditq', logger, now: () => clock })
    await recorder.record(read({}))
    clock += 1_000
    await recorder.record(read({}))
    clock += 3_600_000
    // Ten reads just past the window, before any sweep: one new first record, nine folded.
    for (let i = 0; i < 10; i++) {
      clock += 10
      await recorder.record(read({}))
    }
    expect(await trail()).toHaveLength(2)
    expect(recorder.stats()).toMatchObject({ aggregated: 10, pending: 2 })
    await recorder.close()
    // In time order (an aggregate is dated by its last read): the first window's aggregate comes before the second window's first read.
    const events = await trail()
    expect(events.map((event) => (event.metadata['aggregated'] as { count: number } | undefined)?.count ?? 0)).toEqual([0, 1, 0, 9])
  })

  it('records every access in the system tenant, the tenant accessed as the resource', async () => {
    opened = await freshStore('embedded')
    const recorder = new AccessRecorder({ write: (events) => opened!.store.insertBatch(events), windowMs: 0, systemTenant: 'auditq-system', logger })
    await recorder.record(read({}, { tenant: null, actor: { kind: 'open', id: null } }))
    await recorder.record(read({}, { tenant: 'bad tenant!' }))
    expect((await trail()).map((event) => [event.tenant_id, event.resource_id, event.actor_id])).toEqual([
      ['auditq-system', '*', 'open'],
      ['auditq-system', 'bad tenant!', 'k1'],
    ])
  })

  it('refuses the access when its record cannot be stored, and keeps a failed aggregate for the next sweep', async () => {
    opened = await freshStore('embedded')
    let failing = true
    let clock = 0
    const recorder = new AccessRecorder({
      write: async (events) => {
        if (failing) throw new Error('disk full')
        return opened!.store.insertBatch(events)
      },
      windowMs: 1_000,
      systemTenant: 'auditq',
      logger,
      now: () => clock,
    })
    const refused = await recorder.record(read({ a: 1 })).catch((error: unknown) => error)
    expect(isAuditqError(refused) && refused.code).toBe('AUDITQ_ACCESS_UNRECORDED')
    expect(recorder.stats()).toMatchObject({ failed: 1, recorded: 0, pending: 0, failing: { message: 'disk full' } })
    failing = false
    await recorder.record(read({ a: 1 }))
    expect(recorder.stats().failing).toBeNull()
    clock += 10
    await recorder.record(read({ a: 1 }))
    failing = true
    await recorder.flush()
    expect(recorder.stats()).toMatchObject({ failed: 2, pending: 1 })
    failing = false
    clock += 5_000
    await recorder.close()
    expect(recorder.stats()).toMatchObject({ recorded: 2, pending: 0 })
    expect((await trail()).map((event) => (event.metadata['aggregated'] as { count: number } | undefined)?.count ?? 0)).toEqual([0, 1])
  })
})
