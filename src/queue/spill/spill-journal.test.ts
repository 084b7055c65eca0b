import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { replayAll, segmentFiles, spillBaseDir, spillEvents } from '../../../test/fixtures/spill-support.js'
import { encodeRecords, SEGMENT_HEADER_BYTES } from './format.js'
import { SpillFullError, SpillJournal } from './index.js'

describe('spill journal', () => {
  let base: Awaited<ReturnType<typeof spillBaseDir>>
  const open: SpillJournal[] = []
  const openJournal = async (options: Partial<Parameters<typeof SpillJournal.open>[0]> = {}) => {
    const journal = await SpillJournal.open({ dir: base.dir, ...options })
    open.push(journal)
    return journal
  }
  beforeEach(async () => {
    base = await spillBaseDir()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((journal) => journal.close()))
    await base.remove()
  })

  it('hands back appended events in order, in batches of at most batchSize', async () => {
    const journal = await openJournal()
    const events = spillEvents(25)
    await journal.append(events.slice(0, 10))
    await journal.append(events.slice(10))
    expect(journal.stats()).toMatchObject({ events: 25, appended: 25, delivered: 0, journals: 1 })

    const delivered: typeof events = []
    const batchSizes: number[] = []
    const report = await journal.replay(async (batch) => {
      delivered.push(...batch)
      batchSizes.push(batch.length)
    }, { batchSize: 10 })

    expect(delivered).toEqual(events)
    expect(batchSizes).toEqual([10, 10, 5])
    expect(report).toMatchObject({ delivered: 25, batches: 3, corrupt: [], tornBytes: 0 })
    expect(journal.stats()).toMatchObject({ events: 0, bytes: 0, delivered: 25 })
    expect((await replayAll(journal)).ids).toEqual([])
  })

  it('replays in the next journal what a closed one left', async () => {
    const first = await SpillJournal.open({ dir: base.dir })
    await first.append(spillEvents(3, 'old'))
    await first.close()

    const second = await openJournal()
    expect(second.stats()).toMatchObject({ events: 3, journals: 2 })
    await second.append(spillEvents(2, 'new'))
    const { ids, report } = await replayAll(second)
    expect(ids).toEqual(['old-0000', 'old-0001', 'old-0002', 'new-0000', 'new-0001'])
    expect(report.delivered).toBe(5)
    expect(second.stats()).toMatchObject({ events: 0, journals: 1 })
  })

  it('removes its directory on close when nothing waits', async () => {
    const journal = await SpillJournal.open({ dir: base.dir })
    await journal.append(spillEvents(3))
    await replayAll(journal)
    await journal.close()
    expect(await readdir(base.dir)).toEqual([])
  })

  it('keeps the failed batch and everything after it when deliver throws', async () => {
    const journal = await openJournal()
    await journal.append(spillEvents(7))
    let calls = 0
    const failing = journal.replay(async () => {
      calls += 1
      if (calls === 2) throw new Error('queue went away')
    }, { batchSize: 3 })
    await expect(failing).rejects.toThrow('queue went away')
    expect(journal.stats()).toMatchObject({ events: 4, delivered: 3 })

    const { ids } = await replayAll(journal)
    expect(ids).toEqual(['e-0003', 'e-0004', 'e-0005', 'e-0006'])
  })

  it('survives a deliver failure across reopen: the checkpoint only moves after deliver resolves', async () => {
    const first = await SpillJournal.open({ dir: base.dir })
    await first.append(spillEvents(6))
    await expect(
      first.replay(async (batch) => {
        if (batch[0]!.id === 'e-0002') throw new Error('down')
      }, { batchSize: 2 }),
    ).rejects.toThrow('down')
    await first.close()

    const second = await openJournal()
    expect((await replayAll(second)).ids).toEqual(['e-0002', 'e-0003', 'e-0004', 'e-0005'])
  })

  it('rolls over at segmentBytes and deletes each segment once it is delivered', async () => {
    const recordBytes = encodeRecords(spillEvents(1)).length
    // Room for three records per segment.
    const journal = await openJournal({ segmentBytes: SEGMENT_HEADER_BYTES + 3 * recordBytes })
    for (const event of spillEvents(10)) await journal.append([event])
    expect(await segmentFiles(base.dir)).toHaveLength(4)
    expect(journal.stats().segments).toBe(4)

    const { ids } = await replayAll(journal, 4)
    expect(ids).toEqual(spillEvents(10).map((e) => e.id))
    // The drained active segment is deleted, so disk is given back at once (and a full disk needs
    // no free space for it); the next append starts a fresh segment.
    expect(await segmentFiles(base.dir)).toHaveLength(0)
    expect(journal.stats()).toMatchObject({ segments: 0, events: 0, usedBytes: 0 })
    await journal.append(spillEvents(1, 'after'))
    expect(await segmentFiles(base.dir)).toHaveLength(1)
    expect((await replayAll(journal)).ids).toEqual(['after-0000'])
  })

  it('does not redeliver a segment replay passed, after reopen', async () => {
    const recordBytes = encodeRecords(spillEvents(1)).length
    const first = await SpillJournal.open({ dir: base.dir, segmentBytes: SEGMENT_HEADER_BYTES + 2 * recordBytes })
    for (const event of spillEvents(6)) await first.append([event])
    await expect(
      first.replay(async (batch) => {
        if (batch[0]!.id === 'e-0002') throw new Error('down')
      }, { batchSize: 2 }),
    ).rejects.toThrow('down')
    expect(first.stats().segments).toBe(2)
    await first.close()

    const second = await openJournal()
    expect((await replayAll(second)).ids).toEqual(['e-0002', 'e-0003', 'e-0004', 'e-0005'])
  })

  it('refuses an append past maxBytes with SpillFullError, writing none of it', async () => {
    const recordBytes = encodeRecords(spillEvents(1)).length
    const maxBytes = SEGMENT_HEADER_BYTES + 5 * recordBytes
    const journal = await openJournal({ maxBytes })
    await journal.append(spillEvents(4))

    const refused = journal.append(spillEvents(2, 'x'))
    await expect(refused).rejects.toBeInstanceOf(SpillFullError)
    await expect(refused).rejects.toMatchObject({ code: 'AUDITQ_SPILL_FULL', maxBytes })
    expect(journal.stats()).toMatchObject({ events: 4, usedBytes: SEGMENT_HEADER_BYTES + 4 * recordBytes })

    await journal.append(spillEvents(1, 'y')) // exactly fills it
    await expect(journal.append(spillEvents(1, 'z'))).rejects.toBeInstanceOf(SpillFullError)

    // Replay gives the space back.
    expect((await replayAll(journal)).ids).toHaveLength(5)
    await journal.append(spillEvents(5, 'w'))
    expect((await replayAll(journal)).ids).toEqual(spillEvents(5, 'w').map((e) => e.id))
  })

  it('group-commits concurrent appends and acknowledges every one', async () => {
    const journal = await openJournal({ segmentBytes: 64 * 1024 })
    const batches = Array.from({ length: 128 }, (_, i) => spillEvents(3, `a${i}`))
    await Promise.all(batches.map((batch) => journal.append(batch)))
    expect(journal.stats()).toMatchObject({ events: 384, appended: 384 })

    const { ids } = await replayAll(journal, 100)
    expect(ids.sort()).toEqual(batches.flat().map((e) => e.id).sort())
    // Each append's events stay together and in order, whatever the interleaving between appends.
    const position = new Map(ids.map((id, i) => [id, i]))
    for (const batch of batches) {
      const at = batch.map((e) => position.get(e.id)!)
      expect(at).toEqual([at[0], at[0]! + 1, at[0]! + 2])
    }
  })

  it("fsync 'batch' lingers to gather appends and is just as durable", async () => {
    const journal = await openJournal({ fsync: 'batch', batchLingerMs: 5 })
    await Promise.all(Array.from({ length: 10 }, (_, i) => journal.append(spillEvents(2, `b${i}`))))
    await journal.close()
    const next = await openJournal()
    expect((await replayAll(next)).ids).toHaveLength(20)
  })

  it('rejects appends and replays after close with AUDITQ_CLOSED', async () => {
    const journal = await SpillJournal.open({ dir: base.dir })
    await journal.close()
    await expect(journal.append(spillEvents(1))).rejects.toMatchObject({ code: 'AUDITQ_CLOSED' })
    await expect(replayAll(journal)).rejects.toMatchObject({ code: 'AUDITQ_CLOSED' })
  })

  it('rejects a nonsensical size with AUDITQ_CONFIG', async () => {
    await expect(SpillJournal.open({ dir: path.join(base.dir, 'x'), segmentBytes: 0 })).rejects.toMatchObject({
      code: 'AUDITQ_CONFIG',
    })
  })
})
