import { afterEach, describe, expect, it, vi } from 'vitest'
import { DLQ, QUEUE, eventually, startWorker, type TestWorker } from '../../test/cloudflare/miniflare.js'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

/** The test message of the older token-usage design's instructions, exactly as `wrangler queues producer … send` would send it. */
const LEGACY_TEST_MESSAGE = {
  version: 1,
  event: { token_id: 'test-token', subject: 'user:test', event_type: 'generated', timestamp: 1234567890 },
  enqueued_at: 1234567890,
}

let worker: TestWorker | undefined
afterEach(async () => {
  await worker?.dispose()
  worker = undefined
})

async function deadLetters(w: TestWorker, count: number): Promise<{ body: string }[]> {
  return eventually(async () => {
    const rows = await w.sql<{ body: string }>('SELECT body FROM test_dead_letters')
    return rows.length >= count ? rows : undefined
  }, `${count} message(s) in ${DLQ}`)
}

describe(`handleAuditBatch consuming ${QUEUE} (workerd + local D1 + local queue)`, () => {
  it("stores the legacy test message, queryable like the legacy token_usage table and through the query API", async () => {
    worker = await startWorker({ mode: 'queue' })
    await worker.fetch('/raw', { body: LEGACY_TEST_MESSAGE })
    const rows = await eventually(async () => {
      const found = await worker!.sql("SELECT * FROM token_usage WHERE token_id = 'test-token'")
      return found.length > 0 ? found : undefined
    }, 'the legacy test message in token_usage')
    expect(rows).toEqual([
      expect.objectContaining({ token_id: 'test-token', subject: 'user:test', event_type: 'generated', timestamp: 1234567890, client_id: null, metadata: '{}' }),
    ])
    const page = await worker.fetch('/v1/events?resource_id=test-token')
    expect(page.json.events).toEqual([
      expect.objectContaining({ action: 'generated', actor_id: 'user:test', resource_type: 'token', resource_id: 'test-token', occurred_at: '2009-02-13T23:31:30.000Z' }),
    ])
  })

  it('a message D1 refuses is retried on its own, then lands in the dead-letter queue intact; its batch-mates are stored', async () => {
    worker = await startWorker({ mode: 'queue', maxRetries: 2 })
    // A real refusal by D1 for one event's content (the validator cannot know about this rule).
    await worker.exec("CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_logs WHEN NEW.action = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
    const { json } = await worker.fetch('/bulk', { body: [{ action: 'fine.before' }, { action: 'poison', actor_id: 'p' }, { action: 'fine.after' }] })
    const [before, poison, after] = json.ids as string[]
    const [dead] = await deadLetters(worker, 1)
    expect(JSON.parse(dead!.body)).toMatchObject({ version: 1, event: { id: poison, action: 'poison', actor_id: 'p' } })
    expect(await worker.sql('SELECT id FROM audit_logs WHERE id IN (?, ?, ?) ORDER BY action', before, poison, after)).toEqual([{ id: after }, { id: before }])
    // Delivered once plus max_retries times, each time alone after the first (its batch-mates were acked).
    const deliveries = await worker.sql<{ attempts: number }>(
      `SELECT d.attempts FROM test_deliveries d WHERE d.message_id IN (SELECT message_id FROM test_deliveries GROUP BY message_id HAVING count(*) > 1) ORDER BY d.attempts`,
    )
    expect(deliveries.map((d) => d.attempts)).toEqual([1, 2, 3])
    expect(await worker.sql<{ n: number }>('SELECT count(*) AS n FROM test_deliveries')).toEqual([{ n: 5 }])
  })

  it("records a dead-lettered event's producer number in D1 before its last delivery goes to the dead-letter queue, and only then", async () => {
    worker = await startWorker({ mode: 'queue', maxRetries: 1 })
    await worker.exec("CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_logs WHEN NEW.action = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
    const { json } = await worker.fetch('/bulk', {
      body: [
        { action: 'fine', producer_id: 'edge-7', producer_seq: 1 },
        { action: 'poison', producer_id: 'edge-7', producer_seq: 2 },
        { action: 'poison', actor_id: 'unnumbered' },
      ],
    })
    expect(json.ids).toHaveLength(3)
    await deadLetters(worker, 2)
    const records = await worker.sql<{ tenant_id: string; resource_id: string; metadata: string }>(
      "SELECT tenant_id, resource_id, metadata FROM audit_logs WHERE action = 'auditq.producer.dead_lettered'",
    )
    // One record, for the numbered event only, written once (on the last delivery, not the first).
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ tenant_id: 'default', resource_id: 'edge-7' })
    const metadata = JSON.parse(records[0]!.metadata) as { producer_id: string; ranges: [number, number, string][] }
    expect(metadata.producer_id).toBe('edge-7')
    expect(metadata.ranges).toHaveLength(1)
    expect(metadata.ranges[0]!.slice(0, 2)).toEqual([2, 2])
    expect(metadata.ranges[0]![2]).toMatch(/poison refused/)

    // The completeness check over D1 accounts for both numbers: one stored, one dead-lettered.
    const { json: report } = await worker.fetch('/v1/completeness?producer_id=edge-7&in_flight_bound_ms=0')
    expect(report).toMatchObject({ missing_events: 0, producers: [{ producer_id: 'edge-7', stored: 1, dead_lettered: 1, missing: [], in_flight: [] }] })
  })

  it('a message from a newer producer (unknown envelope version) is retried, then kept in the dead-letter queue, not dropped', async () => {
    worker = await startWorker({ mode: 'queue', maxRetries: 1 })
    const future = { version: 2, event: { action: 'from.the.future' }, enqueued_at: Date.now() }
    await worker.fetch('/raw', { body: future })
    const [dead] = await deadLetters(worker, 1)
    expect(JSON.parse(dead!.body)).toEqual(future)
    expect(await worker.sql('SELECT attempts FROM test_deliveries ORDER BY attempts')).toEqual([{ attempts: 1 }, { attempts: 2 }])
    expect(await worker.sql('SELECT count(*) AS n FROM audit_rejects')).toEqual([{ n: 0 }])
  })

  it('an invalid event or a body that is no envelope is recorded in audit_rejects with the reasons, then acknowledged (never retried)', async () => {
    worker = await startWorker({ mode: 'queue' })
    await worker.fetch('/raw', { body: { version: 1, event: { subject: 'user:x', ip_address: 'nope' }, enqueued_at: 1 } })
    await worker.fetch('/raw', { body: 'just a string' })
    const rejects = await eventually(async () => {
      const rows = await worker!.sql<{ reason: string; errors: string; body: string }>('SELECT reason, errors, body FROM audit_rejects ORDER BY reason')
      return rows.length === 2 ? rows : undefined
    }, 'two rejects')
    expect(rejects[0]!.reason).toBe('invalid_event')
    expect(JSON.parse(rejects[0]!.errors).map((e: { field: string; rule: string }) => `${e.field}:${e.rule}`).sort()).toEqual(['action:required', 'ip_address:ip_address'])
    expect(JSON.parse(rejects[0]!.body)).toMatchObject({ event: { subject: 'user:x' } })
    expect(rejects[1]).toMatchObject({ reason: 'malformed', body: '"just a string"' })
    expect(await worker.sql('SELECT attempts FROM test_deliveries')).toEqual([{ attempts: 1 }, { attempts: 1 }])
    expect(await worker.sql('SELECT count(*) AS n FROM test_dead_letters')).toEqual([{ n: 0 }])
  })

  it('refuses the reserved retention action from a producer writing straight to the queue, as AuditService does', async () => {
    worker = await startWorker({ mode: 'queue' })
    await worker.fetch('/raw', { body: { version: 1, event: { action: 'audit.retention.cleanup', actor_id: 'intruder' }, enqueued_at: 1 } })
    const rejects = await eventually(async () => {
      const rows = await worker!.sql<{ reason: string; errors: string }>('SELECT reason, errors FROM audit_rejects')
      return rows.length > 0 ? rows : undefined
    }, 'the refused message')
    expect(rejects[0]!.reason).toBe('invalid_event')
    expect(JSON.parse(rejects[0]!.errors)).toMatchObject([{ field: 'action', rule: 'reserved' }])
    expect(await worker.sql("SELECT count(*) AS n FROM audit_logs WHERE action = 'audit.retention.cleanup'")).toEqual([{ n: 0 }])
  })

  it('redacts secrets before storage, also for producers that write straight to the queue, and in a refused message kept in audit_rejects', async () => {
    worker = await startWorker({ mode: 'queue' })
    const secretEvent = { token_id: 't-secret', subject: 'user:s', event_type: 'generated', timestamp: 1234567890, metadata: { refresh_token: 'rt-123', nested: { password: 'hunter2' }, scope: 'read' } }
    await worker.fetch('/raw', { body: { version: 1, event: secretEvent, enqueued_at: 1 } })
    await worker.fetch('/raw', { body: { version: 1, event: { subject: 'user:bad', metadata: { api_key: 'k-999' } }, enqueued_at: 1 } })
    const stored = await eventually(async () => {
      const rows = await worker!.sql<{ metadata: string }>("SELECT metadata FROM audit_logs WHERE resource_id = 't-secret'")
      return rows.length > 0 ? rows : undefined
    }, 'the event with secrets')
    expect(JSON.parse(stored[0]!.metadata)).toEqual({ refresh_token: '[REDACTED]', nested: { password: '[REDACTED]' }, scope: 'read' })
    const rejects = await eventually(async () => {
      const rows = await worker!.sql<{ body: string }>('SELECT body FROM audit_rejects')
      return rows.length > 0 ? rows : undefined
    }, 'the refused message')
    expect(rejects[0]!.body).not.toContain('k-999')
    expect(JSON.parse(rejects[0]!.body)).toMatchObject({ event: { subject: 'user:bad', metadata: { api_key: '[REDACTED]' } } })
    const all = JSON.stringify(await worker.sql('SELECT * FROM audit_logs')) + JSON.stringify(await worker.sql('SELECT * FROM audit_rejects'))
    for (const secret of ['rt-123', 'hunter2', 'k-999']) expect(all).not.toContain(secret)
  })

  it('a refused message kept in audit_rejects keeps its identifiers (token_id, key ids) so it can be found and replayed, while its secrets stay hidden', async () => {
    worker = await startWorker({ mode: 'queue' })
    const refused = {
      version: 1,
      event: {
        token_id: 'tok-refused-7',
        subject: 'user:r',
        event_type: 'generated',
        timestamp: 1234567890,
        ip_address: 'not-an-ip',
        metadata: { api_key_id: 'key-42', accessTokenId: 'atid-9', access_token: 'at-secret-1', api_key: 'k-secret-2', client_secret: 'cs-secret-3' },
      },
      enqueued_at: 1,
    }
    await worker.fetch('/raw', { body: refused })
    await eventually(async () => ((await worker!.sql('SELECT message_id FROM audit_rejects')).length > 0 ? true : undefined), 'the refused message')
    const [row] = await worker.sql<{ body: string }>("SELECT body FROM audit_rejects WHERE body ->> '$.event.token_id' = 'tok-refused-7'")
    expect(row, 'the refused message, found by its token_id').toBeDefined()
    const body = JSON.parse(row!.body)
    expect(body.event).toMatchObject({ token_id: 'tok-refused-7', metadata: { api_key_id: 'key-42', accessTokenId: 'atid-9', access_token: '[REDACTED]', api_key: '[REDACTED]', client_secret: '[REDACTED]' } })
    for (const secret of ['at-secret-1', 'k-secret-2', 'cs-secret-3']) expect(row!.body).not.toContain(secret)
    // The replay: the operator fixes the field named in `errors` and sends the recorded body again.
    body.event.ip_address = '203.0.113.7'
    await worker.fetch('/raw', { body })
    const replayed = await eventually(async () => {
      const rows = await worker!.sql("SELECT token_id, subject FROM token_usage WHERE token_id = 'tok-refused-7'")
      return rows.length > 0 ? rows : undefined
    }, 'the replayed event under its token_id')
    expect(replayed).toEqual([{ token_id: 'tok-refused-7', subject: 'user:r' }])
  })

  it('a batch redelivered after D1 committed it (the acks were lost) is stored once — ids from the producer and, for legacy messages, from the message id', async () => {
    worker = await startWorker({ mode: 'queue', loseFirstAcks: true })
    const { json } = await worker.fetch('/log', { body: { action: 'exactly.once' } })
    await worker.fetch('/raw', { body: { ...LEGACY_TEST_MESSAGE, event: { ...LEGACY_TEST_MESSAGE.event, token_id: 'redelivered-token' } } })
    const handled = await eventually(async () => {
      const rows = await worker!.sql<{ attempts: number }>('SELECT attempts FROM test_handled')
      return rows.length === 2 ? rows : undefined
    }, 'both messages handled on a later delivery')
    expect(handled.every((row) => row.attempts >= 2)).toBe(true)
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs WHERE id = ?', json.id)).toEqual([{ n: 1 }])
    expect(await worker.sql("SELECT count(*) AS n FROM token_usage WHERE token_id = 'redelivered-token'")).toEqual([{ n: 1 }])
  })

  it('the same event sent twice (a producer retry) is stored once', async () => {
    worker = await startWorker({ mode: 'queue' })
    const event = { action: 'sent.twice', id: '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f72' }
    await worker.fetch('/log', { body: event })
    await worker.fetch('/log', { body: event })
    await eventually(async () => {
      const rows = await worker!.sql<{ n: number }>('SELECT count(*) AS n FROM test_deliveries')
      return rows[0]!.n === 2 ? rows : undefined
    }, 'both messages consumed')
    await eventually(async () => ((await worker!.sql('SELECT id FROM audit_logs')).length > 0 ? true : undefined), 'the event stored')
    expect(await worker.sql('SELECT count(*) AS n FROM audit_logs WHERE id = ?', event.id)).toEqual([{ n: 1 }])
  })
})

describe('handleAuditBatch while D1 cannot take the batch', () => {
  it('retries every message (none acked, none rejected) and stores them once D1 is back', async () => {
    // One second between deliveries and 100 retries (Cloudflare's maximum): the outage outlasts several deliveries, never all of them.
    worker = await startWorker({ mode: 'queue', maxRetries: 100, retryDelaySeconds: 1 })
    const w = worker
    await w.exec('ALTER TABLE audit_logs RENAME TO audit_logs_away')
    const { json } = await w.fetch('/bulk', { body: [{ action: 'outage.one' }, { action: 'outage.two' }] })
    await eventually(async () => {
      const rows = await w.sql<{ n: number }>('SELECT count(DISTINCT message_id) AS n FROM test_deliveries WHERE attempts >= 2')
      return rows[0]!.n === 2 ? true : undefined
    }, 'both messages redelivered during the outage')
    await w.exec('ALTER TABLE audit_logs_away RENAME TO audit_logs')
    const stored = await eventually(async () => {
      const rows = await w.sql<{ id: string }>('SELECT id FROM audit_logs WHERE id IN (?, ?)', ...json.ids)
      return rows.length === 2 ? rows : undefined
    }, 'both events stored after the outage')
    expect(stored).toHaveLength(2)
    expect(await w.sql('SELECT count(*) AS n FROM audit_rejects')).toEqual([{ n: 0 }])
    expect(await w.sql('SELECT count(*) AS n FROM test_dead_letters')).toEqual([{ n: 0 }])
  })
})

describe('replaying the dead-letter queue with handleAuditBatch (the documented recovery)', () => {
  it('stores a dead-lettered event once the cause is fixed', async () => {
    worker = await startWorker({ mode: 'queue', maxRetries: 1, replayDeadLetters: true, retryDelaySeconds: 1 })
    const w = worker
    await w.exec("CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_logs WHEN NEW.action = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
    const { json } = await w.fetch('/log', { body: { action: 'poison', actor_id: 'p' } })
    await eventually(async () => ((await w.sql('SELECT 1 FROM test_deliveries WHERE queue = ?', DLQ)).length > 0 ? true : undefined), 'a delivery from the DLQ')
    expect(await w.sql('SELECT count(*) AS n FROM audit_logs')).toEqual([{ n: 0 }])
    await w.exec('DROP TRIGGER refuse_poison')
    await eventually(async () => ((await w.sql('SELECT id FROM audit_logs WHERE id = ?', json.id)).length === 1 ? true : undefined), 'the replayed event in D1')
  })
})
