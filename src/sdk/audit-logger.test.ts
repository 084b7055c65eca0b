import { afterEach, describe, expect, it, vi } from 'vitest'
import { v7 as uuidv7 } from 'uuid'
import { AuditqError } from '../errors.js'
import { createLogger } from '../util/logger.js'
import { createAuditLogger, type AuditLogger } from './audit-logger.js'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']
const silent = createLogger({ level: 'silent' })

describe.each(kinds)('direct-mode SDK on the %s store', (kind) => {
  let t: TestStore
  let audit: AuditLogger
  afterEach(async () => {
    await audit?.close()
    await t?.dispose()
  })
  async function open() {
    t = await freshStore(kind)
    audit = await createAuditLogger({ store: t.store, logger: silent })
  }

  it('resolves log() only once the event can be read back', async () => {
    await open()
    const id = await audit.log({ action: 'api_key.created', actor_id: 'u1', resource_type: 'api_key', resource_id: 'k9' })
    expect(await t.store.getById(id)).toMatchObject({ id, action: 'api_key.created', resource_id: 'k9' })
  })

  it("refuses the retention run's reserved action from callers (only auditq's cleanup writes it)", async () => {
    await open()
    await expect(audit.log({ action: 'audit.retention.cleanup', metadata: { cut_seq: 5 } })).rejects.toMatchObject({ code: 'AUDITQ_VALIDATION' })
    const bulk = await audit.logBulk([{ action: 'audit.retention.cleanup' }, { action: 'fine' }])
    expect(bulk.rejected).toEqual([{ index: 0, errors: [{ field: 'action', rule: 'reserved', message: expect.stringContaining('retention') }] }])
    expect(audit.stats().invalidByRule.reserved).toBe(2)
  })

  it('group-commits 200 concurrent callers into far fewer transactions', async () => {
    await open()
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => audit.log({ action: 'concurrent', actor_id: `c${i}` })))
    expect(new Set(ids).size).toBe(200)
    const stats = audit.stats()
    expect(stats.stored).toBe(200)
    expect(stats.commits).toBeLessThan(20)
    const page = await t.store.query({ action: 'concurrent' }, { limit: 1000 })
    expect(page.events).toHaveLength(200)
  })

  it('logCritical stores the event as critical', async () => {
    await open()
    const id = await audit.logCritical({ action: 'permanent_ban_applied', actor_id: 'u1' })
    expect((await t.store.getById(id))?.category).toBe('critical')
  })

  it('logBulk stores the valid events and reports the invalid ones by index', async () => {
    await open()
    const result = await audit.logBulk([{ action: 'ok.1' }, { action: '' }, { action: 'ok.2' }])
    expect(result.ids).toHaveLength(2)
    expect(result.rejected.map((r) => r.index)).toEqual([1])
    expect(result.rejected[0]!.errors[0]!.field).toBe('action')
  })

  it('stores a caller-supplied id once across retries', async () => {
    await open()
    const id = uuidv7()
    await audit.log({ id, action: 'retry.me' })
    await audit.log({ id, action: 'retry.me' })
    expect(audit.stats()).toMatchObject({ stored: 1, duplicates: 1 })
  })

  it('close() flushes everything accepted, then refuses new events', async () => {
    await open()
    const pending = Array.from({ length: 50 }, (_, i) => audit.log({ action: 'flush.on.close', actor_id: `f${i}` }))
    await audit.close()
    await Promise.all(pending)
    expect((await t.store.query({ action: 'flush.on.close' }, { limit: 100 })).events).toHaveLength(50)
    await expect(audit.log({ action: 'late' })).rejects.toMatchObject({ code: 'AUDITQ_CLOSED' })
  })
})

describe('SDK errors and detached logging', () => {
  it('throws AUDITQ_VALIDATION with every field error', async () => {
    const audit = await createAuditLogger({ store: new MemoryStore(), logger: silent })
    const error = await audit.log({ action: 'bad action!', ip_address: 'nope' } as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuditqError)
    expect((error as AuditqError).code).toBe('AUDITQ_VALIDATION')
    expect(((error as AuditqError).details as { field: string }[]).map((e) => e.field).sort()).toEqual(['action', 'ip_address'])
  })

  it('logDetached never throws and counts what it could not store', async () => {
    const store = new MemoryStore()
    const audit = await createAuditLogger({ store, logger: silent })
    expect(() => audit.logDetached({ action: 'fine' })).not.toThrow()
    expect(() => audit.logDetached({ action: 'bad action!' })).not.toThrow()
    await vi.waitFor(() => expect(audit.stats().stored).toBe(1))
    store.down = true
    audit.logDetached({ action: 'lost.to.outage' })
    await audit.close()
    expect(store.rows.size).toBe(1)
    expect(audit.stats()).toMatchObject({ detachedFailures: 2, invalid: 1, failed: 1 })
  })

  it('rejects log() with AUDITQ_STORE_UNAVAILABLE when the store is down', async () => {
    const store = new MemoryStore()
    store.down = true
    const audit = await createAuditLogger({ store, logger: silent })
    await expect(audit.log({ action: 'x' })).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
    await expect(audit.logBulk([{ action: 'x' }])).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE', details: { not_stored_ids: [expect.any(String)] } })
    await audit.close()
  })
})
