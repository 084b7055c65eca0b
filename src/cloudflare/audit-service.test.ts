import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { eventually, startWorker, type TestWorker } from '../../test/cloudflare/miniflare.js'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

const legacyShaped = { token_id: 'tok-1', subject: 'user:alice', event_type: 'generated', client_id: 'web', ip_address: '::ffff:203.0.113.9', timestamp: 1_763_900_000 }

describe('AuditService without a queue writes to D1 directly (workerd + local D1)', () => {
  let worker: TestWorker
  beforeAll(async () => {
    worker = await startWorker({ mode: 'direct' })
  })
  afterAll(() => worker?.dispose())

  it('log() resolves after the event is in D1, in the same stored form as the Node SDK', async () => {
    const { status, json } = await worker.fetch('/log', { body: { action: 'api_key.created', actor_id: 'u1', metadata: { k: 1 } } })
    expect(status).toBe(200)
    const stored = await worker.fetch(`/v1/events/${json.id}`)
    expect(stored.json).toMatchObject({ id: json.id, action: 'api_key.created', actor_id: 'u1', category: 'info', success: true, tenant_id: 'default', metadata: { k: 1 } })
  })

  it('stores and returns the auditq.v2 fields (a client numbering its own events), changes redacted like metadata', async () => {
    const body = {
      action: 'doc.updated',
      actor_name: 'Ada',
      targets: [{ type: 'doc', id: 'd1', name: 'Plan' }],
      changes: { title: { before: 'a', after: 'b' }, password: { before: 'x', after: 'y' } },
      producer_id: 'edge-1',
      producer_seq: 7,
    }
    const { json } = await worker.fetch('/log', { body })
    const stored = await worker.fetch(`/v1/events/${json.id}`)
    expect(stored.json).toMatchObject({
      actor_name: 'Ada',
      targets: [{ id: 'd1', name: 'Plan', type: 'doc' }],
      changes: { password: { after: '[REDACTED]', before: '[REDACTED]' }, title: { after: 'b', before: 'a' } },
      producer_id: 'edge-1',
      producer_seq: 7,
      sealed: null,
      subject_index: null,
    })
  })

  it('the completeness check over D1 names the numbers a client lost, in flight while young and missing after the bound', async () => {
    // A client numbering its own events, whose numbers 3 and 6-7 never arrived (across two tenants).
    const sent = [1, 2, 4, 5, 8].map((seq) => ({ action: 'doc.viewed', tenant_id: seq % 2 ? 'acme' : 'globex', producer_id: 'edge-9', producer_seq: seq }))
    expect((await worker.fetch('/bulk', { body: sent })).json.ids).toHaveLength(5)
    const young = await worker.fetch('/v1/completeness?producer_id=edge-9')
    expect(young.json).toMatchObject({ missing_events: 0, producers: [{ producer_id: 'edge-9', stored: 5, last_stored_seq: 8, missing: [] }] })
    expect(young.json.producers[0].in_flight.map((g: { from: number; to: number }) => [g.from, g.to])).toEqual([[3, 3], [6, 7]])
    const old = await worker.fetch('/v1/completeness?producer_id=edge-9&in_flight_bound_ms=0')
    expect(old.json.missing_events).toBe(3)
    expect(old.json.producers[0].missing.map((g: { from: number; to: number }) => [g.from, g.to])).toEqual([[3, 3], [6, 7]])
  })

  it('redacts metadata secrets before the write, as the Node SDK does', async () => {
    const { json } = await worker.fetch('/log', { body: { action: 'token.issued', actor_id: 'u1', metadata: { accessToken: 'at-1', client: { secret: 's-2' }, scope: 'read' } } })
    const stored = await worker.fetch(`/v1/events/${json.id}`)
    expect(stored.json.metadata).toEqual({ accessToken: '[REDACTED]', client: { secret: '[REDACTED]' }, scope: 'read' })
  })

  it('maps the legacy token-usage shape the way the Node SDK does', async () => {
    const { json } = await worker.fetch('/log', { body: legacyShaped })
    const stored = await worker.fetch(`/v1/events/${json.id}`)
    expect(stored.json).toMatchObject({
      action: 'generated',
      actor_id: 'user:alice',
      resource_type: 'token',
      resource_id: 'tok-1',
      client_id: 'web',
      ip_address: '203.0.113.9',
      occurred_at: new Date(1_763_900_000_000).toISOString(),
    })
    const rows = await worker.sql('SELECT token_id, subject, event_type, timestamp FROM token_usage WHERE token_id = ?', 'tok-1')
    expect(rows).toEqual([{ token_id: 'tok-1', subject: 'user:alice', event_type: 'generated', timestamp: 1_763_900_000 }])
  })

  it('refuses an invalid event with AUDITQ_VALIDATION naming every field, and stores nothing', async () => {
    const before = await worker.sql<{ n: number }>('SELECT count(*) AS n FROM audit_logs')
    const { status, json } = await worker.fetch('/log', { body: { actor_id: 'u1', ip_address: '999.1.1.1' } })
    expect(status).toBe(400)
    expect(json.code).toBe('AUDITQ_VALIDATION')
    expect(json.details.map((e: { field: string; rule: string }) => `${e.field}:${e.rule}`).sort()).toEqual(['action:required', 'ip_address:ip_address'])
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs')).toEqual(before)
  })

  it("refuses the retention run's reserved action as the Node SDK does, and stores nothing", async () => {
    const before = await worker.sql<{ n: number }>('SELECT count(*) AS n FROM audit_logs')
    const { status, json } = await worker.fetch('/log', { body: { action: 'audit.retention.cleanup' } })
    expect(status).toBe(400)
    expect(json.code).toBe('AUDITQ_VALIDATION')
    expect(json.details).toEqual([expect.objectContaining({ field: 'action', rule: 'reserved' })])
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs')).toEqual(before)
  })

  it('logBulk stores the valid events and reports the invalid ones by index', async () => {
    const { json } = await worker.fetch('/bulk', { body: [{ action: 'a.one' }, { action: 'bad action!' }, { action: 'a.two', id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70' }] })
    expect(json.ids).toHaveLength(2)
    expect(json.rejected).toEqual([{ index: 1, errors: [expect.objectContaining({ field: 'action', rule: 'pattern' })] }])
    const rows = await worker.sql('SELECT id, action FROM audit_logs WHERE id IN (?, ?) ORDER BY action', ...json.ids)
    expect(rows).toEqual([{ id: json.ids[0], action: 'a.one' }, { id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70', action: 'a.two' }])
  })

  it('the same id logged twice is stored once', async () => {
    const event = { action: 'retry.me', id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f71' }
    await worker.fetch('/log', { body: event })
    await worker.fetch('/log', { body: event })
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs WHERE id = ?', event.id)).toEqual([{ n: 1 }])
  })

  it('logCritical stores category critical', async () => {
    const { json } = await worker.fetch('/critical', { body: { event_type: 'permanent_ban_applied', user_id: 42 } })
    expect((await worker.fetch(`/v1/events/${json.id}`)).json).toMatchObject({ category: 'critical', action: 'permanent_ban_applied', actor_id: '42' })
  })

  it('a bulk insert larger than one D1 string value goes in as several statements of one batch', async () => {
    const metadata = { blob: 'x'.repeat(12_000) }
    const events = Array.from({ length: 150 }, (_, i) => ({ action: 'big.bulk', actor_id: `big-${i}`, metadata }))
    const { json } = await worker.fetch('/bulk', { body: events })
    expect(json.rejected).toEqual([])
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs WHERE action = ?', 'big.bulk')).toEqual([{ n: 150 }])
  })
})

describe('AuditService with a queue (workerd + local D1 + local queue)', () => {
  it('queued events land in D1 after the consumer runs', async () => {
    const worker = await startWorker({ mode: 'queue' })
    try {
      const one = await worker.fetch('/log', { body: { action: 'queued.one', actor_id: 'q1' } })
      const bulk = await worker.fetch('/bulk', { body: [{ action: 'queued.bulk', actor_id: 'q2' }, { action: 'queued.bulk', actor_id: 'q3' }] })
      const ids = [one.json.id, ...bulk.json.ids]
      const rows = await eventually(async () => {
        const found = await worker.sql<{ id: string }>(`SELECT id FROM audit_logs WHERE id IN (?, ?, ?)`, ...ids)
        return found.length === 3 ? found : undefined
      }, 'three queued events in D1')
      expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort())
      // The event the consumer stored is the one log() validated: same id, same received_at.
      const stored = (await worker.fetch(`/v1/events/${one.json.id}`)).json
      expect(stored).toMatchObject({ action: 'queued.one', actor_id: 'q1', category: 'info' })
    } finally {
      await worker.dispose()
    }
  })

  it('log() goes through the queue (nothing in D1 until a consumer runs) while logCritical() writes to D1 at once', async () => {
    const worker = await startWorker({ mode: 'queue', consumer: false })
    try {
      const queued = await worker.fetch('/log', { body: { action: 'waits.in.queue' } })
      const critical = await worker.fetch('/critical', { body: { action: 'account.locked' } })
      expect(await worker.sql('SELECT id, category FROM audit_logs')).toEqual([{ id: critical.json.id, category: 'critical' }])
      expect(queued.json.id).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await worker.dispose()
    }
  })

  it('an event of category critical in a bulk call is written to D1 at once; the others of the call wait in the queue', async () => {
    const worker = await startWorker({ mode: 'queue', consumer: false })
    try {
      const bulk = await worker.fetch('/bulk', { body: [{ action: 'waits.in.queue' }, { action: 'account.locked', category: 'critical' }, { action: 'waits.in.queue' }] })
      expect(bulk.json.ids).toHaveLength(3)
      expect(await worker.sql('SELECT id, category FROM audit_logs')).toEqual([{ id: bulk.json.ids[1], category: 'critical' }])
    } finally {
      await worker.dispose()
    }
  })

  it('when the queue refuses a send, the events are written to D1 directly before log() resolves, and counted', async () => {
    const worker = await startWorker({ mode: 'queue', consumer: false })
    try {
      const one = await worker.fetch('/log?queue=refusing', { body: { action: 'queue.down' } })
      expect(one.json.stats).toMatchObject({ queued: 0, queueFallbacks: 1, written: 1 })
      const bulk = await worker.fetch('/bulk?queue=refusing', { body: [{ action: 'queue.down.bulk' }, { action: 'queue.down.bulk' }] })
      expect(bulk.json.stats).toMatchObject({ queueFallbacks: 2, written: 2 })
      const ids = [one.json.id, ...bulk.json.ids]
      expect(await worker.sql('SELECT count(*) AS n FROM audit_logs WHERE id IN (?, ?, ?)', ...ids)).toEqual([{ n: 3 }])
    } finally {
      await worker.dispose()
    }
  })

  it('logDetached returns at once and the write completes under waitUntil', async () => {
    const worker = await startWorker({ mode: 'queue' })
    try {
      const { json } = await worker.fetch('/detached', { body: { action: 'detached.write', actor_id: 'd1' } })
      expect(json).toEqual({ detached: true })
      await eventually(async () => ((await worker.sql("SELECT id FROM audit_logs WHERE action = 'detached.write'")).length === 1 ? true : undefined), 'the detached event in D1')
    } finally {
      await worker.dispose()
    }
  })
})
