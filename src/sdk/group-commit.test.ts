import { describe, expect, it } from 'vitest'
import { GroupCommitter } from './group-commit.js'
import { MemoryStore } from '../../test/support/memory-store.js'
import { storedEvent } from '../../test/support/events.js'

describe('group commit', () => {
  it('commits a lone event at once in its own batch', async () => {
    const store = new MemoryStore()
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0 })
    const [outcome] = await committer.submit([storedEvent()])
    expect(outcome).toEqual({ ok: true })
    expect(store.batchSizes).toEqual([1])
  })

  it('shares transactions among concurrent callers instead of one round trip each', async () => {
    const store = new MemoryStore()
    store.latencyMs = 5
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0 })
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => committer.submit([storedEvent()])))
    expect(outcomes.flat().every((o) => o.ok)).toBe(true)
    expect(store.rows.size).toBe(200)
    expect(store.batchSizes.length).toBeLessThanOrEqual(3)
  })

  it('never puts more than maxBatchEvents in one transaction', async () => {
    const store = new MemoryStore()
    const committer = new GroupCommitter(store, { maxBatchEvents: 64, maxWaitMs: 0 })
    await Promise.all(Array.from({ length: 300 }, () => committer.submit([storedEvent()])))
    expect(Math.max(...store.batchSizes)).toBeLessThanOrEqual(64)
    expect(store.rows.size).toBe(300)
  })

  it('lingers up to maxWaitMs for company, but not for urgent events', async () => {
    const store = new MemoryStore()
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 50 })
    const first = committer.submit([storedEvent()])
    await new Promise((resolve) => setTimeout(resolve, 10))
    const second = committer.submit([storedEvent()])
    await Promise.all([first, second])
    expect(store.batchSizes).toEqual([2])

    const started = performance.now()
    await committer.submit([storedEvent()], { urgent: true })
    expect(performance.now() - started).toBeLessThan(40)
  })

  it('isolates an event the store refuses so its neighbours are stored', async () => {
    const store = new MemoryStore()
    store.poisonAction = 'poison'
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0 })
    const events = Array.from({ length: 37 }, (_, i) => storedEvent({ action: i === 17 ? 'poison' : 'fine' }))
    const outcomes = await committer.submit(events)
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(1)
    const failed = outcomes[17]!
    expect(failed.ok).toBe(false)
    if (!failed.ok) expect(failed.error.code).toBe('AUDITQ_STORE_REJECTED')
    expect(store.rows.size).toBe(36)
  })

  it('fails the whole batch fast when the store is unreachable, and recovers after', async () => {
    const store = new MemoryStore()
    store.down = true
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0 })
    const outcomes = await committer.submit(Array.from({ length: 50 }, () => storedEvent()))
    expect(outcomes.every((o) => !o.ok && o.error.code === 'AUDITQ_STORE_UNAVAILABLE')).toBe(true)
    expect(store.batchSizes).toEqual([50])
    store.down = false
    expect(await committer.submit([storedEvent()])).toEqual([{ ok: true }])
  })

  it('drain waits for everything in flight', async () => {
    const store = new MemoryStore()
    store.latencyMs = 20
    const committer = new GroupCommitter(store, { maxBatchEvents: 10, maxWaitMs: 0 })
    void committer.submit(Array.from({ length: 35 }, () => storedEvent()))
    await committer.drain()
    expect(store.rows.size).toBe(35)
    expect(committer.pendingCount).toBe(0)
  })
})

describe('group commit with several commits in flight', () => {
  it('starts the next commit while one is in flight, instead of waiting for it', async () => {
    const store = new MemoryStore()
    store.latencyMs = 20
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0, maxInFlight: 2 })
    const first = committer.submit([storedEvent()])
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = committer.submit([storedEvent()])
    await Promise.all([first, second])
    expect(store.batchSizes).toEqual([1, 1])
    expect(store.maxConcurrent).toBe(2)
  })

  it('never has more commits in flight than allowed, and each takes everything pending', async () => {
    const store = new MemoryStore()
    store.latencyMs = 5
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0, maxInFlight: 2 })
    // Callers that pause between events (as request handlers do) arrive while a commit is in flight.
    const callers = Array.from({ length: 64 }, async (_, c) => {
      for (let i = 0; i < 10; i++) {
        await committer.submit([storedEvent()])
        await new Promise((resolve) => setTimeout(resolve, (c + i) % 7))
      }
    })
    await Promise.all(callers)
    expect(store.rows.size).toBe(640)
    expect(store.maxConcurrent).toBe(2)
    // Batches are not halved to fill both slots: the first takes all 64 callers' events.
    expect(store.batchSizes[0]).toBe(64)
  })

  it('keeps commits strictly one after another with maxInFlight 1', async () => {
    const store = new MemoryStore()
    store.latencyMs = 5
    const committer = new GroupCommitter(store, { maxBatchEvents: 500, maxWaitMs: 0, maxInFlight: 1 })
    await Promise.all(Array.from({ length: 50 }, () => committer.submit([storedEvent()])))
    await committer.submit([storedEvent()])
    expect(store.maxConcurrent).toBe(1)
  })

  it('keeps a call larger than a batch in order: its parts never run side by side', async () => {
    const store = new MemoryStore()
    store.latencyMs = 10
    const committer = new GroupCommitter(store, { maxBatchEvents: 100, maxWaitMs: 0, maxInFlight: 4 })
    // Parts of 100, 100 and 50: run side by side, the smaller last part would be stored first.
    const bulk = Array.from({ length: 250 }, (_, i) => storedEvent({ description: `bulk-${i}` }))
    const outcomes = await committer.submit(bulk)
    expect(outcomes.every((o) => o.ok)).toBe(true)
    expect(store.stored.map((e) => e.description)).toEqual(bulk.map((e) => e.description))
    expect(store.maxConcurrent).toBe(1)
  })

  it('reports every in-flight event as pending until its commit returns, and drain waits for all', async () => {
    const store = new MemoryStore()
    store.latencyMs = 20
    const committer = new GroupCommitter(store, { maxBatchEvents: 10, maxWaitMs: 0, maxInFlight: 3 })
    void committer.submit(Array.from({ length: 35 }, () => storedEvent()))
    await new Promise((resolve) => setImmediate(resolve))
    expect(committer.inFlightCount + committer.pendingCount).toBe(35)
    expect(committer.oldestWaitingSince).not.toBeNull()
    await committer.drain()
    expect(store.rows.size).toBe(35)
    expect(committer.inFlightCount).toBe(0)
    expect(committer.oldestWaitingSince).toBeNull()
  })
})
