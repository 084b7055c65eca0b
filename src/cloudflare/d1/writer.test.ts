import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { startWorker, type TestWorker } from '../../../test/cloudflare/miniflare.js'
import { MAX_CHUNK_BYTES, D1EventWriter, chunkRows, classifyD1Error } from './writer.js'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

describe('D1 batch insert chunking', () => {
  it('keeps every row, in order, in chunks of at most MAX_CHUNK_BYTES of UTF-8 (multi-byte text counted as bytes)', () => {
    const wide = '日本語🙂'.repeat(1500) // 3- and 4-byte characters: ~19.5 KB of UTF-8 in ~7.5k UTF-16 units
    const events = Array.from({ length: 120 }, (_, i) => storedEvent({ actor_id: `a${i}`, description: wide.slice(0, 2048), metadata: { wide } }))
    const chunks = chunkRows(events)
    expect(chunks.length).toBeGreaterThan(1)
    for (const chunk of chunks) expect(new TextEncoder().encode(chunk).length).toBeLessThanOrEqual(MAX_CHUNK_BYTES)
    expect(chunks.flatMap((chunk) => JSON.parse(chunk) as { id: string }[]).map((row) => row.id)).toEqual(events.map((e) => e.id))
  })
})

describe('D1EventWriter in workerd', () => {
  let worker: TestWorker
  beforeAll(async () => {
    worker = await startWorker({ mode: 'direct' })
  })
  afterAll(() => worker?.dispose())

  it('counts inserted and duplicate rows, including the same id twice in one batch', async () => {
    const writer = new D1EventWriter(worker.db)
    const a = storedEvent({ action: 'dup.a' })
    const b = storedEvent({ action: 'dup.b' })
    expect(await writer.insertBatch([a, a, b])).toEqual({ inserted: 2, duplicates: 1 })
    expect(await writer.insertBatch([a, b])).toEqual({ inserted: 0, duplicates: 2 })
  })

  it("classifies D1's own errors: a refused row is `data` (isolate it), a missing table is `transient` (retry)", async () => {
    const writer = new D1EventWriter(worker.db)
    await worker.exec("CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_logs WHEN NEW.action = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
    const refused = await writer.insertBatch([storedEvent({ action: 'poison' })]).catch((error: unknown) => error)
    expect(classifyD1Error(refused)).toBe('data')
    await worker.exec('ALTER TABLE audit_logs RENAME TO audit_logs_away')
    const missing = await writer.insertBatch([storedEvent()]).catch((error: unknown) => error)
    await worker.exec('ALTER TABLE audit_logs_away RENAME TO audit_logs')
    expect(classifyD1Error(missing)).toBe('transient')
  })
})
