/**
 * The embedded feed with several writer processes on one file (the service, a CLI `send`, an
 * import): SQLite runs their write transactions one at a time, so each tenant's seq order is
 * commit order and the audit_feed key is too. Three real processes write while this one follows
 * every feed with small pages; each follower must end with exactly the events written, in order.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cliEnv } from '../../../test/support/cli.js'
import { decodeFeedCursor } from '../../feed/cursor.js'
import { startPosition, type FeedEvent, type FeedPosition } from '../../feed/feed-event.js'
import { readFeedPage } from '../../feed/read.js'
import { createEmbeddedStore } from './embedded-store.js'

const BUILT_STORE = pathToFileURL(path.resolve(import.meta.dirname, '../../../dist/store/embedded/embedded-store.js')).href

/** A writer process: `batches` batches of 1–3 events over tenants a, b, c; prints the ids it stored. */
const WRITER = `
const { createEmbeddedStore } = await import(process.env.STORE_MODULE)
const { randomUUID } = await import('node:crypto')
const store = await createEmbeddedStore({ dataDir: process.env.DATA_DIR })
const ids = []
for (let b = 0; b < Number(process.env.BATCHES); b++) {
  const now = new Date().toISOString()
  const events = Array.from({ length: 1 + (b % 3) }, (_, i) => ({
    id: randomUUID(), tenant_id: ['a', 'b', 'c'][(b + i + Number(process.env.WRITER)) % 3], occurred_at: now, received_at: now,
    action: 'doc.read', category: 'info', actor_id: 'w' + process.env.WRITER, actor_type: 'user', resource_type: null, resource_id: null,
    success: true, error_message: null, description: null, ip_address: null, user_agent: null, session_id: null, request_id: null,
    client_id: null, metadata: {},
  }))
  await store.insertBatch(events)
  ids.push(...events.map((e) => [e.tenant_id, e.id]))
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
}
await store.close()
process.stdout.write(JSON.stringify(ids))
`

function runWriter(dataDir: string, writer: number, batches: number): Promise<Array<[string, string]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
      env: cliEnv({ DATA_DIR: dataDir, STORE_MODULE: BUILT_STORE, WRITER: String(writer), BATCHES: String(batches) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Array<[string, string]>) : reject(new Error(`writer ${writer} exited ${code}: ${err}`))))
  })
}

describe('embedded feed with several writer processes', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  })

  it('gives every follower each event once, each tenant in seq order', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-feed-writers-'))
    dirs.push(dataDir)
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    let writing = true
    const follow = async (tenant: string | undefined): Promise<FeedEvent[]> => {
      const seen: FeedEvent[] = []
      let after: FeedPosition = startPosition(tenant)
      for (;;) {
        const done = !writing
        const page = await readFeedPage(store.feed!, after, 3)
        seen.push(...page.events)
        after = decodeFeedCursor(page.next, tenant)
        if (page.events.length === 0) {
          if (done) return seen
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      }
    }
    try {
      const followers = [follow(undefined), follow('a'), follow('b'), follow('c')]
      const written = (await Promise.all([0, 1, 2].map((writer) => runWriter(dataDir, writer, 30)))).flat()
      writing = false
      const [all, ...tenants] = await Promise.all(followers)
      expect(all!.map((e) => e.event.id).sort()).toEqual(written.map(([, id]) => id).sort())
      ;['a', 'b', 'c'].forEach((tenant, i) => {
        const mine = written.filter(([t]) => t === tenant).map(([, id]) => id).sort()
        for (const feed of [tenants[i]!, all!.filter((e) => e.event.tenant_id === tenant)]) {
          expect(feed.map((e) => e.seq)).toEqual(mine.map((_, k) => k + 1))
          expect(feed.map((e) => e.event.id).sort()).toEqual(mine)
        }
      })
    } finally {
      await store.close()
    }
  }, 60_000)
})
