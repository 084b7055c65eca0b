import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSpillJournal, spawnSpillWriter, type CompiledSpillJournal } from '../../../test/fixtures/spill-child.js'
import { replayAll, spillBaseDir, spillEvents } from '../../../test/fixtures/spill-support.js'
import { SpillJournal } from './index.js'

describe('spill journals of several producers in one base directory', () => {
  let compiled: CompiledSpillJournal
  let base: Awaited<ReturnType<typeof spillBaseDir>>
  const open: SpillJournal[] = []
  const openJournal = async () => {
    const journal = await SpillJournal.open({ dir: base.dir })
    open.push(journal)
    return journal
  }
  beforeAll(async () => {
    compiled = await buildSpillJournal()
  })
  afterAll(async () => {
    await compiled?.remove()
  })
  beforeEach(async () => {
    base = await spillBaseDir()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((journal) => journal.close()))
    await base.remove()
  })

  it('gives each open journal its own directory, and each replays only its own events', async () => {
    const a = await openJournal()
    const b = await openJournal()
    await a.append(spillEvents(3, 'a'))
    await b.append(spillEvents(2, 'b'))
    expect((await readdir(base.dir)).filter((name) => name.startsWith('j-'))).toHaveLength(2)

    expect((await replayAll(a)).ids).toEqual(['a-0000', 'a-0001', 'a-0002'])
    expect((await replayAll(b)).ids).toEqual(['b-0000', 'b-0001'])
    expect(a.stats().journals).toBe(1)
  })

  it("leaves a live producer's journal alone and adopts it once that producer is killed", async () => {
    const writer = spawnSpillWriter(compiled.modulePath, base.dir, {
      batches: 0,
      maxBatchSize: 20,
      appenders: 2,
      segmentBytes: 64 * 1024,
    })
    try {
      await writer.ready
      await new Promise((resolve) => setTimeout(resolve, 200))
      const journal = await openJournal()
      const whileAlive = await replayAll(journal)
      expect(whileAlive.ids).toEqual([])
      expect(whileAlive.report.adopted).toEqual([])
      expect(journal.stats().journals).toBe(1)

      writer.kill('SIGKILL')
      await writer.exited
      const acknowledged = writer.acknowledgedIds()
      expect(acknowledged.length).toBeGreaterThan(0)
      const afterDeath = await replayAll(journal)
      expect(afterDeath.report.adopted).toHaveLength(1)
      const delivered = new Set(afterDeath.ids)
      expect(acknowledged.filter((id) => !delivered.has(id))).toEqual([])
      expect(journal.stats()).toMatchObject({ journals: 1, events: 0 })
    } finally {
      writer.kill('SIGKILL')
    }
  })

  it('adopts the journal of a producer that closed with events waiting', async () => {
    const writer = spawnSpillWriter(compiled.modulePath, base.dir, {
      batches: 5,
      maxBatchSize: 10,
      appenders: 1,
      segmentBytes: 64 * 1024,
    })
    expect(await writer.exited).toEqual({ code: 0, signal: null })
    expect(writer.finished()).toBe(true)
    const { ids } = await replayAll(await openJournal())
    expect(ids).toEqual(writer.acknowledgedIds())
  })

  it('treats a LOCK whose pid was reused by another process (this one) as dead', async () => {
    const previous = await SpillJournal.open({ dir: base.dir })
    await previous.append(spillEvents(2, 'prev'))
    await previous.close()
    // As after a container restart: the same pid, but a process that started at another time.
    const [dir] = (await readdir(base.dir)).filter((name) => name.startsWith('j-'))
    const lock = { pid: process.pid, startTicks: '1', hostname: 'before-restart', createdAt: new Date(0).toISOString() }
    await writeFile(path.join(base.dir, dir!, 'LOCK'), JSON.stringify(lock))

    expect((await replayAll(await openJournal())).ids).toEqual(['prev-0000', 'prev-0001'])
  })

  it('hands a dead journal to exactly one of two producers adopting at once', async () => {
    const dead = await SpillJournal.open({ dir: base.dir })
    await dead.append(spillEvents(50, 'dead'))
    await dead.close()

    const [c, d] = await Promise.all([openJournal(), openJournal()])
    const [fromC, fromD] = await Promise.all([replayAll(c!), replayAll(d!)])
    expect([...fromC.ids, ...fromD.ids].sort()).toEqual(spillEvents(50, 'dead').map((e) => e.id))
    expect([c!.stats().delivered, d!.stats().delivered].sort()).toEqual([0, 50])
  })

  it('takes over what a dead adopter had adopted itself, and replays both', async () => {
    const first = await SpillJournal.open({ dir: base.dir })
    await first.append(spillEvents(2, 'first'))
    await first.close()
    const adopter = await SpillJournal.open({ dir: base.dir }) // adopts `first` at open…
    await adopter.append(spillEvents(2, 'adopter'))
    await adopter.close() // …and leaves before replaying it

    const last = await openJournal()
    expect(last.stats()).toMatchObject({ journals: 3, events: 4 })
    const { ids } = await replayAll(last)
    expect(ids.sort()).toEqual(['adopter-0000', 'adopter-0001', 'first-0000', 'first-0001'])
    const ownDir = (await readdir(base.dir)).find((name) => name.startsWith('j-'))!
    expect(await readdir(path.join(base.dir, ownDir, 'adopted'))).toEqual([])
    expect(JSON.parse(await readFile(path.join(base.dir, ownDir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid })
  })
})
