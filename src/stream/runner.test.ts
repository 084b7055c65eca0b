/**
 * The runner against both real stores and a real HTTP receiver: in-order, at-least-once delivery
 * across a receiver killed mid-batch, retries and parking, the lease between two runners, backfill
 * beside the live stream, tenant isolation, and the per-tenant confirmations archive streams record.
 */
import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { postgresAvailable } from '../../test/support/services.js'
import { WebhookReceiver } from '../../test/support/webhook-receiver.js'
import type { AuditEvent } from '../event/types.js'
import { createLogger } from '../util/logger.js'
import { StreamAdmin } from './admin.js'
import type { StreamDefinition } from './definition.js'
import { BUILT_IN_FORMATTERS } from './format.js'
import type { StreamObserver } from './observer.js'
import { StreamRunner } from './runner.js'
import { sinkFactory } from './sinks/create-sink.js'
import { StoreFeed } from './store-feed.js'
import type { FeedEvent, StreamSink } from './sink.js'

const SECRET = 'test-secret'
const logger = createLogger({ level: 'silent' })
const settings = { leaseTtlMs: 3_000, scanEveryMs: 100, pollMs: 50, retryInitialDelayMs: 20, retryMaxDelayMs: 200 }

function definition(name: string, url: string, overrides: Partial<StreamDefinition> = {}): StreamDefinition {
  return { name, owner_tenant: null, sink: { kind: 'webhook', url, options: { secret: SECRET } }, filter: { tenants: [], actions: [], categories: [] }, format: 'json', batch_size: 50, ...overrides }
}

class CountingObserver implements StreamObserver {
  delivered_ = 0
  retries = 0
  parks = 0
  delivered(_: string, events: number): void {
    this.delivered_ += events
  }
  failed(_: string, outcome: 'retry' | 'park'): void {
    if (outcome === 'retry') this.retries++
    else this.parks++
  }
  lag(): void {}
  stopped(): void {}
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe.each(['embedded', 'postgres'] as StoreKind[])('stream runner on the %s store', (kind) => {
  let available = true
  let test: TestStore
  const runners: StreamRunner[] = []
  const receivers: WebhookReceiver[] = []

  beforeAll(async () => {
    if (kind === 'postgres') available = await postgresAvailable()
  })
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()))
    await Promise.all(receivers.splice(0).map((r) => r.kill()))
    await test?.dispose()
  })

  async function setup(): Promise<{ admin: StreamAdmin; receiver: WebhookReceiver; run: (owner?: string) => { runner: StreamRunner; observer: CountingObserver } }> {
    test = await freshStore(kind)
    const receiver = new WebhookReceiver(SECRET)
    await receiver.start()
    receivers.push(receiver)
    const admin = new StreamAdmin(test.store.streams!)
    const run = (owner = 'owner-a') => {
      const observer = new CountingObserver()
      // The archive sink lives elsewhere; here a file written and fsynced per batch stands in for it.
      const createSink = sinkFactory(BUILT_IN_FORMATTERS, { archive: () => new FileSink(join(test.location.dataDir, `archive-${owner}.ndjson`)) })
      const runner = new StreamRunner({ store: test.store.streams!, feed: new StoreFeed(test.store.feed!, test.store.integrity), createSink, observer, logger, owner, settings })
      runner.start()
      runners.push(runner)
      return { runner, observer }
    }
    return { admin, receiver, run }
  }

  async function insert(count: number, tenants: string[], extra: Partial<AuditEvent> = {}): Promise<AuditEvent[]> {
    const events = Array.from({ length: count }, (_, i) => storedEvent({ tenant_id: tenants[i % tenants.length]!, metadata: { i }, ...extra }))
    for (let i = 0; i < events.length; i += 100) await test.store.insertBatch(events.slice(i, i + 100))
    return events
  }

  it('delivers every event in order across a receiver killed mid-batch; duplicates only from the batch in flight', async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, receiver, run } = await setup()
    const events = await insert(400, ['acme', 'globex'])
    // The third request is read in full and then the receiver dies without answering.
    receiver.reactions.push({ status: 200 }, { status: 200 }, 'drop')
    await admin.create({ tenantId: null }, definition('siem', receiver.url))
    const { observer } = run()
    await until(() => receiver.requests.some((r) => r.outcome === 'dropped'))
    const port = receiver.port
    await receiver.kill()
    await new Promise((resolve) => setTimeout(resolve, 300))
    await receiver.start(port)
    await until(() => observer.delivered_ >= 400)
    // The observer hears of a batch when the receiver acknowledged it; the stream's position and
    // count move in the store right after, so wait for that commit before reading them.
    await until(async () => (await admin.show({ tenantId: null }, 'siem')).delivered >= 400)

    const received = receiver.acknowledgedLines()
    const ids = received.map((line) => line['id'] as string)
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)))
    const inFlight = receiver.requests.find((r) => r.outcome === 'dropped')!
    const duplicates = ids.length - new Set(ids).size
    // Only the events of the batch that was in flight when the receiver died can arrive twice.
    expect(duplicates).toBeLessThanOrEqual(Number(inFlight.headers['x-auditq-batch-size']))
    // In order per tenant: seq never goes back, apart from the resend of the batch in flight.
    for (const tenant of ['acme', 'globex']) {
      const seqs = [...new Set(received.filter((l) => l['tenant_id'] === tenant).map((l) => l['seq'] as number))]
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      expect(seqs.length).toBe(200)
    }
    expect(receiver.requests.every((r) => r.signature?.ok === true)).toBe(true)
    const stored = await admin.show({ tenantId: null }, 'siem')
    expect(stored.delivered).toBe(400)
    expect(stored.last_error).toBeNull()
  })

  it('retries 5xx honouring Retry-After, parks on another 4xx with the error visible, and resumes', async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, receiver, run } = await setup()
    await insert(10, ['acme'])
    receiver.reactions.push({ status: 503, headers: { 'retry-after': '1' } }, { status: 400, body: 'schema mismatch' })
    await admin.create({ tenantId: null }, definition('parks', receiver.url))
    const { observer } = run()
    await until(async () => (await admin.show({ tenantId: null }, 'parks')).state === 'parked')
    const parked = await admin.show({ tenantId: null }, 'parks')
    expect(parked.last_error).toContain('400')
    expect(parked.last_error).toContain('schema mismatch')
    expect(parked.failing_since).not.toBeNull()
    expect(parked.delivered).toBe(0)
    expect(observer.retries).toBe(1)
    expect(observer.parks).toBe(1)
    // Retry-After: 1 held the retry back at least a second.
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950)
    await admin.resume({ tenantId: null }, 'parks')
    await until(async () => (await admin.show({ tenantId: null }, 'parks')).delivered === 10)
    expect((await admin.show({ tenantId: null }, 'parks')).last_error).toBeNull()
  })

  it('lets exactly one of two runners deliver a stream, and the other take over when it stops', async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, receiver, run } = await setup()
    await insert(200, ['acme'])
    receiver.delayMs = 30
    await admin.create({ tenantId: null }, definition('leased', receiver.url, { batch_size: 20 }))
    const a = run('owner-a')
    const b = run('owner-b')
    await until(() => a.observer.delivered_ + b.observer.delivered_ >= 100)
    const first = a.runner.delivering().length === 1 ? a : b
    const second = first === a ? b : a
    expect(second.runner.delivering()).toEqual([])
    await first.runner.stop()
    await insert(100, ['acme'])
    await until(() => a.observer.delivered_ + b.observer.delivered_ >= 300)
    expect(second.runner.delivering()).toEqual(['leased'])
    expect(receiver.maxInFlight).toBe(1)
    expect(new Set(receiver.acknowledgedLines().map((l) => l['id'])).size).toBe(300)
  })

  it('backfills a replay beside the live stream without moving the live position', async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, receiver, run } = await setup()
    await insert(30, ['acme'], { occurred_at: '2026-01-01T00:00:00.000Z' })
    await insert(20, ['acme'], { occurred_at: '2026-03-01T00:00:00.000Z' })
    await admin.create({ tenantId: null }, definition('live', receiver.url))
    run()
    await until(async () => (await admin.show({ tenantId: null }, 'live')).delivered === 50)
    const livePosition = (await admin.show({ tenantId: null }, 'live')).position
    const replay = await admin.replay({ tenantId: null }, 'live', { time: '2026-02-01T00:00:00Z' })
    expect(replay.replay_of).toBe('live')
    // Live events keep flowing while the replay runs.
    await insert(5, ['acme'], { occurred_at: '2026-04-01T00:00:00.000Z' })
    await until(async () => (await admin.list({ tenantId: null })).length === 1)
    await until(async () => (await admin.show({ tenantId: null }, 'live')).delivered === 55)
    // The replay's deliveries never count as, or move, the live stream's.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const live = await admin.show({ tenantId: null }, 'live')
    expect(live.delivered).toBe(55)
    expect(live.position).not.toBe(livePosition)
    const march = receiver.acknowledgedLines().filter((l) => (l['occurred_at'] as string).startsWith('2026-03'))
    // Once live, once more by the replay (from February on); January is not replayed.
    expect(march.length).toBe(40)
    expect(receiver.acknowledgedLines().filter((l) => (l['occurred_at'] as string).startsWith('2026-01')).length).toBe(30)
  })

  it('records how far an archive stream has confirmed each tenant, for archive-before-delete', async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, run } = await setup()
    const streams = test.store.streams!
    expect(await streams.confirmedThrough('acme')).toBeNull()
    await insert(30, ['acme', 'globex', 'globex'])
    await admin.create({ tenantId: null }, { ...definition('vault', 'file:///archive'), sink: { kind: 'archive', url: 'file:///archive', options: {} }, batch_size: 7 })
    await admin.create({ tenantId: null }, { ...definition('vault-logins', 'file:///archive'), sink: { kind: 'archive', url: 'file:///archive', options: {} }, filter: { tenants: ['globex'], actions: ['user.*'], categories: [] } })
    run()
    await until(async () => (await streams.get('vault'))!.delivered === 30)
    expect(await streams.confirmedThrough('acme')).toBe(10)
    expect(await streams.confirmedThrough('globex')).toBe(20)
    // Covered by the unfiltered archive but nothing archived yet; the filtered one vouches for nothing.
    expect(await streams.confirmedThrough('initech')).toBe(0)
    await admin.delete({ tenantId: null }, 'vault')
    expect(await streams.confirmedThrough('globex')).toBe(0)
  })

  it("keeps a tenant's stream to that tenant's events, whatever its filter says", async (ctx) => {
    if (!available) return ctx.skip()
    const { admin, receiver, run } = await setup()
    await insert(60, ['acme', 'globex', 'initech'])
    // The receiver is on loopback, which a tenant's key may not target: the operator creates acme's stream.
    await expect(admin.create({ tenantId: null }, definition('wide', receiver.url, { owner_tenant: 'acme', filter: { tenants: ['*'], actions: [], categories: [] } }))).resolves.toMatchObject({ owner_tenant: 'acme' })
    await expect(admin.create({ tenantId: 'acme' }, definition('other', receiver.url, { owner_tenant: 'globex' }))).rejects.toMatchObject({ code: 'AUDITQ_FORBIDDEN' })
    await admin.create({ tenantId: null }, definition('admin-only', receiver.url, { filter: { tenants: ['initech'], actions: [], categories: [] } }))
    expect((await admin.list({ tenantId: 'acme' })).map((s) => s.name)).toEqual(['wide'])
    await expect(admin.show({ tenantId: 'globex' }, 'wide')).rejects.toMatchObject({ code: 'AUDITQ_STREAM_NOT_FOUND' })
    run()
    await until(async () => (await admin.show({ tenantId: 'acme' }, 'wide')).delivered === 20 && (await admin.show({ tenantId: null }, 'admin-only')).delivered === 20)
    const byStream = (name: string) => receiver.requests.filter((r) => r.headers['x-auditq-stream'] === name).flatMap((r) => r.body.trim().split('\n').map((l) => JSON.parse(l) as { tenant_id: string }))
    expect(new Set(byStream('wide').map((l) => l.tenant_id))).toEqual(new Set(['acme']))
    expect(new Set(byStream('admin-only').map((l) => l.tenant_id))).toEqual(new Set(['initech']))
  })
})

/** Appends each batch to a file and fsyncs it before acknowledging. */
class FileSink implements StreamSink {
  readonly kind = 'archive'
  constructor(private readonly file: string) {}
  async deliver(batch: readonly FeedEvent[]): Promise<void> {
    appendFileSync(this.file, batch.map((entry) => JSON.stringify(entry.event) + '\n').join(''))
    const fd = openSync(this.file, 'r')
    fsyncSync(fd)
    closeSync(fd)
  }
  async close(): Promise<void> {}
}
