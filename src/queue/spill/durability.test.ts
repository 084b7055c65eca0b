/**
 * "Spilled" must mean durable: a producer killed with SIGKILL mid-stream loses no event whose
 * append had resolved, and the next producer's replay delivers every one of them. Several
 * concurrent appenders and small segments, so kills land inside shared fsyncs and rollovers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSpillJournal, spawnSpillWriter, type CompiledSpillJournal } from '../../../test/fixtures/spill-child.js'
import { replayAll, spillBaseDir } from '../../../test/fixtures/spill-support.js'
import { SpillJournal } from './index.js'

const KILLS = 5
const APPENDERS = 4
const MAX_BATCH = 50

describe('spill journal durability', () => {
  let compiled: CompiledSpillJournal
  beforeAll(async () => {
    compiled = await buildSpillJournal()
  })
  afterAll(async () => {
    await compiled?.remove()
  })

  for (let run = 1; run <= KILLS; run++) {
    it(`replays every acknowledged event after kill -9 (run ${run}/${KILLS})`, async () => {
      const base = await spillBaseDir()
      try {
        const writer = spawnSpillWriter(compiled.modulePath, base.dir, {
          batches: 0,
          maxBatchSize: MAX_BATCH,
          appenders: APPENDERS,
          segmentBytes: 256 * 1024,
        })
        await writer.ready
        // A random moment, so over the runs the kill lands before, inside and after fsyncs.
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400))
        writer.kill('SIGKILL')
        expect((await writer.exited).signal).toBe('SIGKILL')
        const acknowledged = writer.acknowledgedIds()
        expect(acknowledged.length).toBeGreaterThan(0)

        const journal = await SpillJournal.open({ dir: base.dir })
        try {
          const { ids, report } = await replayAll(journal)
          const delivered = new Set(ids)
          expect(acknowledged.filter((id) => !delivered.has(id))).toEqual([])
          // At most the appends in flight at the kill may come back without their acknowledgement.
          expect(delivered.size - acknowledged.length).toBeLessThanOrEqual(APPENDERS * MAX_BATCH)
          expect(delivered.size).toBe(ids.length)
          // SIGKILL keeps the page cache; at most a write cut short by the kill is torn at the tail.
          expect(report.corrupt).toEqual([])
        } finally {
          await journal.close()
        }
      } finally {
        await base.remove()
      }
    })
  }
})
