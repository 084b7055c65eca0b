/**
 * The spill journal on a disk that fills up: a real tmpfs of a few MiB, filled to ENOSPC by a
 * ballast file (test/fixtures/small-disk.ts), so every error is the kernel's own.
 */
import { open, readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { mountSmallDisk, type SmallDisk } from '../../../test/fixtures/small-disk.js'
import { replayAll, segmentFiles, spillEvents } from '../../../test/fixtures/spill-support.js'
import { encodeRecords, SEGMENT_HEADER_BYTES } from './format.js'
import { SpillJournal } from './index.js'

describe('spill journal on a full disk', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  async function disk(ctx: { skip(): void }, bytes = 4 * 1024 * 1024): Promise<SmallDisk & { spillDir: string }> {
    const mounted = await mountSmallDisk({ bytes })
    if (!mounted) {
      ctx.skip()
      throw new Error('unreachable')
    }
    cleanups.push(() => mounted.unmount())
    return { ...mounted, spillDir: path.join(mounted.dir, 'spill') }
  }
  async function openJournal(options: Parameters<typeof SpillJournal.open>[0]) {
    const journal = await SpillJournal.open(options)
    cleanups.push(() => journal.close().catch(() => undefined))
    return journal
  }
  async function appendInBatches(journal: SpillJournal, events: ReturnType<typeof spillEvents>, size = 100) {
    for (let i = 0; i < events.length; i += size) await journal.append(events.slice(i, i + size))
  }

  it('replays every event exactly once and gives drained segments back, with no free space for its checkpoint', async (ctx) => {
    const d = await disk(ctx)
    const journal = await openJournal({ dir: d.spillDir, segmentBytes: 64 * 1024 })
    const events = spillEvents(1_500)
    await appendInBatches(journal, events)
    expect((await segmentFiles(d.spillDir)).length).toBeGreaterThan(3)
    await d.fill()

    // Replay is retried the way the producer retries it (every second): before the checkpoint was
    // overwritten in place, each attempt delivered the same first batch again and nothing more.
    const delivered: string[] = []
    for (let attempt = 0; attempt < 5 && journal.stats().events > 0; attempt++) {
      await journal.replay(async (batch) => void delivered.push(...batch.map((e) => e.id)), { batchSize: 100 }).catch(() => undefined)
    }
    expect(delivered).toEqual(events.map((e) => e.id))
    expect(journal.stats()).toMatchObject({ events: 0, delivered: 1_500, checkpointFailing: null, replayFailing: null })
    expect(await segmentFiles(d.spillDir)).toEqual([])
  })

  it('a restart on a full disk opens its journal, replays what the dead producer left, and says why it refuses new events', async (ctx) => {
    const d = await disk(ctx)
    const first = await SpillJournal.open({ dir: d.spillDir, segmentBytes: 64 * 1024 })
    const left = spillEvents(600, 'left')
    await appendInBatches(first, left)
    await first.close() // released with events waiting, as a crashed producer leaves it
    await d.fill()

    const second = await openJournal({ dir: d.spillDir, retryMinMs: 60_000, retryMaxMs: 60_000 })
    expect(second.stats()).toMatchObject({ events: 600, journals: 2, refusing: { errno: 'ENOSPC' } })
    await expect(second.append(spillEvents(20, 'new'))).rejects.toMatchObject({ code: 'AUDITQ_SPILL_FAILED', errno: 'ENOSPC' })

    const { ids } = await replayAll(second, 100)
    expect(ids).toEqual(left.map((e) => e.id))
    expect(second.stats()).toMatchObject({ events: 0, journals: 1, replayFailing: null })
    // The dead journal is gone with its segments: its space is free again.
    expect(await segmentFiles(d.spillDir)).toEqual([])
  })

  it('stops refusing once space returns, even when no append comes to find out', async (ctx) => {
    const d = await disk(ctx)
    await d.fill()
    const journal = await openJournal({ dir: d.spillDir, retryMinMs: 50, retryMaxMs: 50 })
    expect(journal.stats().refusing).toMatchObject({ errno: 'ENOSPC' })
    await journal.retryWrites()
    await new Promise((resolve) => setTimeout(resolve, 60))
    await journal.retryWrites()
    expect(journal.stats().refusing).toMatchObject({ errno: 'ENOSPC', attempts: 2 })
    await d.free()
    await new Promise((resolve) => setTimeout(resolve, 60))
    await journal.retryWrites()
    expect(journal.stats().refusing).toBeNull()
  })

  it('stops at a damaged record it has no space to move aside, says why, and goes on once space returns', async (ctx) => {
    const d = await disk(ctx)
    const journal = await openJournal({ dir: d.spillDir })
    const events = spillEvents(10)
    for (const event of events) await journal.append([event])
    const [segment] = await segmentFiles(d.spillDir)
    const file = path.join(d.spillDir, segment!)
    // Damage record 5's payload (the record is 12 header bytes plus the event's JSON).
    const recordBytes = encodeRecords([events[0]!]).length
    const handle = await open(file, 'r+')
    await handle.write(Buffer.from('#'), 0, 1, SEGMENT_HEADER_BYTES + 5 * recordBytes + 20)
    await handle.close()
    await d.fill()

    const delivered: string[] = []
    const deliver = async (batch: { id: string }[]) => void delivered.push(...batch.map((e) => e.id))
    await expect(journal.replay(deliver)).rejects.toMatchObject({ code: 'ENOSPC' })
    expect(delivered).toEqual(events.slice(0, 5).map((e) => e.id))
    expect(journal.stats().replayFailing).toMatchObject({ errno: 'ENOSPC' })

    await d.free()
    const report = await journal.replay(deliver)
    expect(delivered).toEqual([...events.slice(0, 5), ...events.slice(6)].map((e) => e.id))
    expect(report.corrupt).toHaveLength(1)
    expect(journal.stats().replayFailing).toBeNull()
  })

  it('a journal opened on a full disk still holds its ownership: no other process adopts it while it lives', async (ctx) => {
    const d = await disk(ctx)
    await d.fill()
    const first = await SpillJournal.open({ dir: d.spillDir, retryMinMs: 10, retryMaxMs: 10 })
    // No room for LOCK's content: the owner is in the name of an empty file.
    const [ownDir] = (await readdir(d.spillDir)).filter((name) => name.startsWith('j-'))
    expect((await readdir(path.join(d.spillDir, ownDir!))).filter((name) => name.startsWith('LOCK'))).toEqual([expect.stringMatching(/^LOCK-\d+-/)])
    await d.free()
    await new Promise((resolve) => setTimeout(resolve, 20))
    await first.append(spillEvents(5, 'first'))

    const second = await openJournal({ dir: d.spillDir })
    expect(second.stats().journals).toBe(1)
    expect((await replayAll(second)).ids).toEqual([])
    await first.close() // released: now it may be adopted
    expect((await replayAll(second)).ids).toEqual(spillEvents(5, 'first').map((e) => e.id))
  })

  it('after a failed write it accepts events again once space returns, after a short backoff', async (ctx) => {
    const d = await disk(ctx)
    const journal = await openJournal({ dir: d.spillDir, retryMinMs: 100, retryMaxMs: 400 })
    await journal.append(spillEvents(10, 'before'))
    await d.fill()
    await expect(journal.append(spillEvents(40, 'full'))).rejects.toMatchObject({ code: 'AUDITQ_SPILL_FAILED', errno: 'ENOSPC' })
    expect(journal.stats().refusing).toMatchObject({ errno: 'ENOSPC', attempts: 1 })
    // Within the backoff the disk is not touched again: the same refusal, at once.
    await expect(journal.append(spillEvents(1, 'soon'))).rejects.toMatchObject({ code: 'AUDITQ_SPILL_FAILED' })
    expect(journal.stats().refusing).toMatchObject({ attempts: 1 })

    await d.free()
    const deadline = Date.now() + 5_000
    for (;;) {
      try {
        await journal.append(spillEvents(5, 'after'))
        break
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    expect(journal.stats().refusing).toBeNull()
    const { ids } = await replayAll(journal)
    expect(ids).toEqual([...spillEvents(10, 'before'), ...spillEvents(5, 'after')].map((e) => e.id))
    // The failed write left no half record behind: the sealed segment was cut at its last fsync.
    expect((await readdir(d.spillDir)).filter((name) => name === 'corrupt')).toEqual([])
  })
})
