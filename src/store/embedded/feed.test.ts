import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'
import { describeFeedContract } from '../../../test/contracts/feed.contract.js'
import { createEmbeddedStore } from './embedded-store.js'

const dirs: string[] = []
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

describeFeedContract('embedded', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'auditq-feed-'))
  dirs.push(dir)
  const store = await createEmbeddedStore({ dataDir: dir })
  await store.migrate()
  return store
})
