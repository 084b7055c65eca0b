import { open, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { spillBaseDir } from '../../../test/fixtures/spill-support.js'
import { CHECKPOINT_FILE, preallocateCheckpoint, readCheckpoint, writeCheckpoint } from './durable-fs.js'

describe('spill checkpoint file', () => {
  let base: Awaited<ReturnType<typeof spillBaseDir>>
  beforeEach(async () => {
    base = await spillBaseDir()
  })
  afterEach(() => base.remove())
  const file = () => path.join(base.dir, CHECKPOINT_FILE)

  it('keeps its preallocated size: every later write overwrites in place', async () => {
    await preallocateCheckpoint(base.dir, { segment: 1, offset: 8 })
    const size = (await readFile(file())).length
    for (let i = 0; i < 5; i++) await writeCheckpoint(base.dir, { segment: 2, offset: 100 + i })
    expect((await readFile(file())).length).toBe(size)
    expect(await readCheckpoint(base.dir)).toEqual({ segment: 2, offset: 104 })
  })

  it('a damaged newest slot falls back to the previous position (a duplicate, never a skip)', async () => {
    await preallocateCheckpoint(base.dir, { segment: 1, offset: 8 })
    await writeCheckpoint(base.dir, { segment: 1, offset: 500 }) // slot 1
    await writeCheckpoint(base.dir, { segment: 1, offset: 900 }) // slot 0
    const handle = await open(file(), 'r+')
    await handle.write(Buffer.from([0xde, 0xad]), 0, 2, 20) // torn: slot 0's offset bytes
    await handle.close()
    expect(await readCheckpoint(base.dir)).toEqual({ segment: 1, offset: 500 })
  })

  it('reads the earlier JSON format and overwrites it in place with slots', async () => {
    await writeFile(file(), JSON.stringify({ version: 1, segment: 3, offset: 77 }))
    expect(await readCheckpoint(base.dir)).toEqual({ segment: 3, offset: 77 })
    await writeCheckpoint(base.dir, { segment: 4, offset: 8 })
    expect(await readCheckpoint(base.dir)).toEqual({ segment: 4, offset: 8 })
  })
})
