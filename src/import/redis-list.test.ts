import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { noAddedFields, type AuditEvent } from '../event/types.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import { REDIS_URL } from '../../test/support/services.js'
import { oldLoggerItem } from '../../test/support/old-queue-items.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { failedKeyOf, importRedisList, processingKeyOf, redisItemId } from './redis-list.js'

const prefix = uniqueRedisPrefix('import-list')
let available = false
let redis: Redis
let dir: string
let store: Store
let key: string
let run = 0

async function storedEvents(): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  for await (const event of store.stream({})) events.push(event)
  return events
}

const seqs = (events: AuditEvent[]) => events.map((event) => (event.metadata as { seq: number }).seq).sort((a, b) => a - b)
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
const target = () => ({ store, defaultTenant: 'default' })

beforeAll(async () => {
  available = await redisAvailable()
  if (available) redis = new Redis(REDIS_URL)
})

afterAll(async () => {
  if (!available) return
  await deleteKeys(redis, prefix)
  redis.disconnect()
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditq-import-'))
  store = await openStore({ dataDir: dir })
  key = `${prefix}:${++run}:audit:queue`
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe.runIf(() => available)('import redis-list', () => {
  it('stores every item once, mapping the old logger fields, and leaves no key behind', async () => {
    for (const seq of range(0, 250)) await redis.lpush(key, oldLoggerItem(seq))
    const result = await importRedisList(target(), { redis, key, batch: 40 })
    expect(result).toMatchObject({ imported: 250, duplicates: 0, invalid: 0, remaining: 0 })
    const events = await storedEvents()
    expect(seqs(events)).toEqual(range(0, 250))
    const first = events.find((event) => event.resource_id === 'k3')!
    expect(first).toMatchObject({ action: 'api_key_created', actor_id: 'u3', category: 'info', ip_address: '10.0.0.1', occurred_at: '2026-01-01T00:00:00.003Z' })
    expect(first.id).toBe(redisItemId(Buffer.from(oldLoggerItem(3))))
    expect(await redis.exists(key, processingKeyOf(key), failedKeyOf(key))).toBe(0)

    // The same items pushed again (a producer that retried) are found, not stored twice.
    await redis.lpush(key, oldLoggerItem(0), oldLoggerItem(1))
    const again = await importRedisList(target(), { redis, key, batch: 40 })
    expect(again).toMatchObject({ imported: 0, duplicates: 2 })
    expect(await storedEvents()).toHaveLength(250)
  })

  it('sets an invalid item aside with its reason and imports the rest', async () => {
    await redis.lpush(key, oldLoggerItem(0), '{"user_id":"u1","created_at":"2026-01-01T00:00:00Z"}', 'not json', oldLoggerItem(1, { ip_address: 'nope' }), oldLoggerItem(2))
    const result = await importRedisList(target(), { redis, key, batch: 2 })
    expect(result).toMatchObject({ imported: 2, invalid: 3, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual([0, 2])
    const failed = (await redis.lrange(failedKeyOf(key), 0, -1)).map((line) => JSON.parse(line) as { item: string; errors: { field: string; rule: string }[] })
    expect(failed).toHaveLength(3)
    const rules = Object.fromEntries(failed.map((entry) => [entry.item, entry.errors.map((error) => `${error.field}/${error.rule}`)]))
    expect(rules['not json']).toEqual(['(root)/json'])
    expect(rules['{"user_id":"u1","created_at":"2026-01-01T00:00:00Z"}']).toEqual(['action/required'])
    expect(rules[oldLoggerItem(1, { ip_address: 'nope' })]).toEqual(['ip_address/ip_address'])
    expect(await redis.llen(processingKeyOf(key))).toBe(0)
    expect(await redis.llen(key)).toBe(0)
  })

  it('first stores what a crashed run left on the processing list, without storing anything twice', async () => {
    for (const seq of range(0, 30)) await redis.lpush(key, oldLoggerItem(seq))
    // A run that moved 10 items, stored 4 of them, and died before removing any.
    for (let i = 0; i < 10; i++) await redis.lmove(key, processingKeyOf(key), 'RIGHT', 'LEFT')
    // LMOVE ... LEFT: the processing list reads newest move first, so its last four are seq 0-3.
    const stored = (await redis.lrange(processingKeyOf(key), 0, -1)).slice(6)
    await store.insertBatch(
      stored.map((raw) => {
        const item = JSON.parse(raw) as { metadata: { seq: number }; event_type: string; created_at: string }
        return { ...blankEvent(), id: redisItemId(Buffer.from(raw)), action: item.event_type, occurred_at: item.created_at, metadata: item.metadata }
      }),
    )
    expect(seqs(await storedEvents())).toEqual([0, 1, 2, 3])

    const result = await importRedisList(target(), { redis, key, batch: 8 })
    expect(result).toMatchObject({ imported: 26, duplicates: 4, invalid: 0, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual(range(0, 30))
    expect(await redis.exists(processingKeyOf(key))).toBe(0)
  })

  it('keeps a batch the store could not take on the processing list, and stores it on the next run', async () => {
    for (const seq of range(0, 12)) await redis.lpush(key, oldLoggerItem(seq))
    let calls = 0
    const flaky = {
      insertBatch: (events: readonly AuditEvent[]) => (++calls === 2 ? Promise.reject(new Error('connection reset')) : store.insertBatch(events)),
      classifyError: () => 'transient' as const,
    } as unknown as Store
    const error: unknown = await importRedisList({ store: flaky, defaultTenant: 'default' }, { redis, key, batch: 5 }).catch((caught: unknown) => caught)
    expect((error as { code?: string }).code).toBe('AUDITQ_STORE_UNAVAILABLE')
    expect(seqs(await storedEvents())).toEqual(range(0, 5))
    expect(await redis.llen(processingKeyOf(key))).toBe(5)
    expect(await redis.exists(failedKeyOf(key))).toBe(0) // a store outage is not the items' fault

    expect(await importRedisList(target(), { redis, key, batch: 5 })).toMatchObject({ imported: 7, duplicates: 0, invalid: 0, remaining: 0 })
    expect(seqs(await storedEvents())).toEqual(range(0, 12))
  })

  it('also drains items a producer pushes while it runs', async () => {
    for (const seq of range(0, 400)) await redis.lpush(key, oldLoggerItem(seq))
    let next = 400
    let producing = true
    const producer = (async () => {
      while (producing && next < 700) {
        await redis.lpush(key, oldLoggerItem(next++))
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    let pushedDuringImport = 0
    const result = await importRedisList(target(), {
      redis,
      key,
      batch: 10,
      onProgress: () => {
        pushedDuringImport = next - 400
      },
    })
    producing = false
    await producer
    const stored = seqs(await storedEvents())
    const left = seqs((await redis.lrange(key, 0, -1)).map((raw) => ({ metadata: (JSON.parse(raw) as { metadata: unknown }).metadata }) as AuditEvent))
    expect(pushedDuringImport).toBeGreaterThan(0)
    expect(stored.filter((seq) => seq >= 400).length).toBeGreaterThan(0)
    // Everything pushed is stored exactly once or still waiting in the list; nothing else.
    expect([...stored, ...left].sort((a, b) => a - b)).toEqual(range(0, next))
    expect(result.imported).toBe(stored.length)
  })

  it('leaves producers already writing to auditq undisturbed while it runs', async () => {
    for (const seq of range(0, 300)) await redis.lpush(key, oldLoggerItem(seq))
    const sdk = await createAuditLogger({ store })
    const logged: Promise<string>[] = []
    const importing = importRedisList(target(), { redis, key, batch: 20, onProgress: () => void logged.push(sdk.log({ action: 'user.login', actor_id: `live${logged.length}` })) })
    const result = await importing
    const ids = await Promise.all(logged)
    await sdk.close()
    expect(result).toMatchObject({ imported: 300, invalid: 0 })
    expect(ids.length).toBe(15)
    const events = await storedEvents()
    expect(events.filter((event) => event.action === 'user.login').map((event) => event.id).sort()).toEqual([...ids].sort())
    expect(seqs(events.filter((event) => event.action === 'api_key_created'))).toEqual(range(0, 300))
  })

  it('changes nothing on a dry run and says what it would do', async () => {
    await redis.lpush(key, oldLoggerItem(0), '{}', oldLoggerItem(1))
    const result = await importRedisList(target(), { redis, key, batch: 2, dryRun: true })
    expect(result).toMatchObject({ imported: 2, invalid: 1, remaining: 3 })
    expect(await storedEvents()).toHaveLength(0)
    expect(await redis.llen(key)).toBe(3)
    expect(await redis.exists(processingKeyOf(key), failedKeyOf(key))).toBe(0)
  })
})

function blankEvent(): AuditEvent {
  return {
    id: '',
    tenant_id: 'default',
    action: '',
    category: 'info',
    occurred_at: '',
    received_at: new Date().toISOString(),
    actor_id: null,
    actor_type: null,
    resource_type: null,
    resource_id: null,
    success: true,
    error_message: null,
    description: null,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata: {},
    ...noAddedFields(),
  }
}
