import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../../test/support/embedded-connection.js'
import { storedEvent } from '../../../test/support/events.js'
import { buildEmbeddedStore, spawnWriter } from '../../../test/fixtures/embedded-child.js'
import type { Store } from '../store.js'
import { describeStoreContract } from '../../../test/contracts/store.contract.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE, type EmbeddedStoreOptions } from './embedded-store.js'

const dataDirs: string[] = []
async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'auditq-embedded-'))
  dataDirs.push(dir)
  return dir
}
afterAll(async () => {
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function migratedStore(options: Partial<EmbeddedStoreOptions> = {}): Promise<Store> {
  const store = await createEmbeddedStore({ dataDir: await freshDataDir(), ...options })
  await store.migrate()
  return store
}

describeStoreContract('embedded', () => migratedStore())

describe('embedded store', () => {
  const opened: Store[] = []
  async function track(store: Promise<Store>): Promise<Store> {
    opened.push(await store)
    return store
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()))
  })

  it('creates the data dir and describes itself by the database file path', async () => {
    const dataDir = path.join(await freshDataDir(), 'nested', 'data')
    const store = await track(createEmbeddedStore({ dataDir }))
    expect(store.kind).toBe('embedded')
    expect(store.description).toBe(path.join(path.resolve(dataDir), EMBEDDED_DB_FILE))
    await store.migrate()
    await store.ping()
  })

  it('sees everything committed before it was closed when reopened', async () => {
    const dataDir = await freshDataDir()
    const first = await createEmbeddedStore({ dataDir })
    await first.migrate()
    const events = Array.from({ length: 50 }, () => storedEvent())
    await first.insertBatch(events)
    await first.close()
    await first.close() // idempotent

    const reopened = await track(createEmbeddedStore({ dataDir }))
    expect((await reopened.migrate()).applied).toEqual([])
    const ids = (await reopened.query({}, { limit: 100 })).events.map((e) => e.id)
    expect(ids.sort()).toEqual(events.map((e) => e.id).sort())
  })

  it('keeps inserting while an export streams from the same connection', async () => {
    const store = await track(migratedStore({ streamChunkRows: 100 }))
    await store.insertBatch(Array.from({ length: 350 }, () => storedEvent({ action: 'before' })))
    let streamed = 0
    for await (const event of store.stream({ action: 'before' })) {
      expect(event.action).toBe('before')
      // better-sqlite3 would throw "connection is busy" here if stream() held an open cursor.
      if (streamed++ % 50 === 0) await store.insertBatch([storedEvent({ action: 'during' })])
    }
    expect(streamed).toBe(350)
    expect((await store.query({ action: 'during' }, { limit: 100 })).events).toHaveLength(7)
  })

  it('loses nothing when two store instances in one process write the same dir', async () => {
    const dataDir = await freshDataDir()
    const [a, b] = await Promise.all([track(createEmbeddedStore({ dataDir })), track(createEmbeddedStore({ dataDir }))])
    await Promise.all([a!.migrate(), b!.migrate()])
    const batches = Array.from({ length: 40 }, () => Array.from({ length: 25 }, () => storedEvent()))
    await Promise.all(batches.map((batch, i) => (i % 2 === 0 ? a! : b!).insertBatch(batch)))
    let count = 0
    for await (const _ of a!.stream({})) count++
    expect(count).toBe(1000)
  })

  it('loses nothing when two processes migrate and write a fresh dir while this one writes too', async () => {
    const compiled = await buildEmbeddedStore()
    try {
      const dataDir = await freshDataDir()
      const writers = [1, 2].map(() => spawnWriter(compiled.modulePath, dataDir, { batches: 40, maxBatchSize: 50 }))
      const local = await track(createEmbeddedStore({ dataDir }))
      await local.migrate()
      const localIds: string[] = []
      for (let i = 0; i < 40; i++) {
        const batch = Array.from({ length: 20 }, () => storedEvent())
        await local.insertBatch(batch)
        localIds.push(...batch.map((e) => e.id))
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
      const exits = await Promise.all(writers.map((w) => w.exited))
      expect(exits).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ])
      const expected = new Set([...localIds, ...writers.flatMap((w) => w.acknowledgedIds())])
      const stored = new Set<string>()
      for await (const event of local.stream({})) stored.add(event.id)
      expect(stored).toEqual(expected)
    } finally {
      await compiled.remove()
    }
  })

  it('classifies a locked database as transient and a rejected row as data', async () => {
    const store = await track(migratedStore({ busyTimeoutMs: 50 }))
    const blocker = openEmbeddedConnection(store.description)
    blocker.exec('BEGIN IMMEDIATE')
    try {
      const busy = await store.insertBatch([storedEvent()]).catch((error: unknown) => error)
      expect((busy as { code?: string }).code).toMatch(/^SQLITE_BUSY/)
      expect(store.classifyError(busy)).toBe('transient')
    } finally {
      blocker.exec('ROLLBACK')
      blocker.close()
    }

    const good = storedEvent()
    // A bad row fails the whole batch (nothing is half-written) instead of being skipped as a duplicate.
    const bad = storedEvent({ category: 'fatal' as never })
    const rejected = await store.insertBatch([good, bad]).catch((error: unknown) => error)
    expect((rejected as { code?: string }).code).toBe('SQLITE_CONSTRAINT_CHECK')
    expect(store.classifyError(rejected)).toBe('data')
    expect(await store.getById(good.id)).toBeNull()

    await store.close()
    const closed = await store.ping().catch((error: unknown) => error)
    expect(store.classifyError(closed)).toBe('transient')
  })
})
