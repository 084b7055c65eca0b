import { open as openFile, readFile, truncate } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { replayAll, segmentFiles, spillBaseDir, spillEvents } from '../../../test/fixtures/spill-support.js'
import { checkRecord, encodeRecords, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js'
import { SpillJournal } from './index.js'

const RECORD_BYTES = encodeRecords(spillEvents(1)).length

/** Offset of record `index` in a segment of same-sized records. */
const recordAt = (index: number) => SEGMENT_HEADER_BYTES + index * RECORD_BYTES

async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await openFile(file, 'r+')
  try {
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, offset)
    byte[0] = byte[0]! ^ 0x5a
    await handle.write(byte, 0, 1, offset)
  } finally {
    await handle.close()
  }
}

describe('spill record format', () => {
  it('reads back what it wrote, and refuses a record with any byte changed', () => {
    const [event] = spillEvents(1)
    const framed = encodeRecords([event!])
    expect(checkRecord(framed)).toEqual({ kind: 'record', event, bytes: framed.length })
    for (const offset of [0, 4, 8, RECORD_HEADER_BYTES, framed.length - 1]) {
      const damaged = Buffer.from(framed)
      damaged[offset] = damaged[offset]! ^ 0x01
      // Padded: a damaged length may claim more bytes than the record has (the reader then reads on).
      expect(checkRecord(Buffer.concat([damaged, Buffer.alloc(64)])).kind, `byte ${offset}`).toBe('bad')
    }
    expect(checkRecord(framed.subarray(0, framed.length - 1))).toMatchObject({ kind: 'short' })
  })

  it('never contains the magic byte 0xFF inside a payload, whatever the text', () => {
    const [event] = spillEvents(1)
    const framed = encodeRecords([{ ...event!, description: 'ÿ\u00ff\uffff 🙂 \u0000', metadata: { 'ÿ': 'ÿ' } }])
    expect(framed.subarray(RECORD_HEADER_BYTES).includes(0xff)).toBe(false)
  })
})

describe('spill journal on damaged disk', () => {
  let base: Awaited<ReturnType<typeof spillBaseDir>>
  const open: SpillJournal[] = []
  beforeEach(async () => {
    base = await spillBaseDir()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((journal) => journal.close()))
    await base.remove()
  })

  /** A journal left behind by a producer (closed with events waiting), and its segment files. */
  async function leftBehind(count: number, options: { segmentBytes?: number } = {}): Promise<string[]> {
    const journal = await SpillJournal.open({ dir: base.dir, ...options })
    for (const event of spillEvents(count)) await journal.append([event])
    await journal.close()
    return (await segmentFiles(base.dir)).map((name) => path.join(base.dir, name))
  }

  async function nextProducer(): Promise<SpillJournal> {
    const journal = await SpillJournal.open({ dir: base.dir })
    open.push(journal)
    return journal
  }

  it('ignores a torn tail where a dead producer stopped, delivering every whole record', async () => {
    const [segment] = await leftBehind(5)
    await truncate(segment!, recordAt(5) - 3)

    const { ids, report } = await replayAll(await nextProducer())
    expect(ids).toEqual(['e-0000', 'e-0001', 'e-0002', 'e-0003'])
    expect(report.corrupt).toEqual([])
    expect(report.tornBytes).toBe(RECORD_BYTES - 3)
  })

  it('ignores a tail torn inside the record header', async () => {
    const [segment] = await leftBehind(3)
    await truncate(segment!, recordAt(2) + 5)
    const { ids, report } = await replayAll(await nextProducer())
    expect(ids).toEqual(['e-0000', 'e-0001'])
    expect(report.tornBytes).toBe(5)
  })

  it('moves a corrupt record in the middle aside to corrupt/, reports it and delivers the rest', async () => {
    const [segment] = await leftBehind(5)
    await flipByte(segment!, recordAt(2) + RECORD_HEADER_BYTES + 10)
    const damaged = (await readFile(segment!)).subarray(recordAt(2), recordAt(3))

    const journal = await nextProducer()
    const { ids, report } = await replayAll(journal)
    expect(ids).toEqual(['e-0000', 'e-0001', 'e-0003', 'e-0004'])
    expect(report.corrupt).toHaveLength(1)
    const [range] = report.corrupt
    expect(range).toMatchObject({ segment: 1, offset: recordAt(2), bytes: RECORD_BYTES })
    expect(path.dirname(range!.file)).toBe(path.join(base.dir, 'corrupt'))
    expect(await readFile(range!.file)).toEqual(damaged)
    expect(journal.stats()).toMatchObject({ corrupt: 1, events: 0 })
  })

  it('finds the next record after a corrupt length, without skipping it', async () => {
    const [segment] = await leftBehind(4)
    await flipByte(segment!, recordAt(1) + 5) // the length field: a reader cannot trust where the record ends

    const { ids, report } = await replayAll(await nextProducer())
    expect(ids).toEqual(['e-0000', 'e-0002', 'e-0003'])
    expect(report.corrupt.map((r) => [r.offset, r.bytes])).toEqual([[recordAt(1), RECORD_BYTES]])
  })

  it('treats damage at the end of an older segment as corruption, not a torn tail', async () => {
    const segments = await leftBehind(4, { segmentBytes: SEGMENT_HEADER_BYTES + 2 * RECORD_BYTES })
    expect(segments).toHaveLength(2)
    await flipByte(segments[0]!, recordAt(1) + RECORD_HEADER_BYTES)

    const { ids, report } = await replayAll(await nextProducer())
    expect(ids).toEqual(['e-0000', 'e-0002', 'e-0003'])
    expect(report.corrupt.map((r) => [r.segment, r.offset])).toEqual([[1, recordAt(1)]])
    expect(report.tornBytes).toBe(0)
  })

  it('treats damage to an acknowledged record of a live journal as corruption, even at its end', async () => {
    const journal = await nextProducer()
    await journal.append(spillEvents(3))
    const [segment] = await segmentFiles(base.dir)
    await flipByte(path.join(base.dir, segment!), recordAt(2) + RECORD_HEADER_BYTES)

    const { ids, report } = await replayAll(journal)
    expect(ids).toEqual(['e-0000', 'e-0001'])
    expect(report.corrupt).toHaveLength(1)
    expect(report.tornBytes).toBe(0)
  })
})
