/**
 * An archive stream as an operator runs it: `auditq serve` with a checkpoint signing key delivers
 * the stream (created with the CLI) into a directory, `auditq verify --archive` checks it offline,
 * and the store answers retention's "archived through which seq?" from the stream's confirmations.
 * Without a signing key the stream is parked with the reason, never written unsigned.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import type { Store } from '../src/store/store.js'
import { CLI, cliEnv } from './support/cli.js'
import { storedEvent } from './support/events.js'
import { freePort } from './support/free-port.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('archive stream delivered by the service', () => {
  let dir: string
  let store: Store
  const children: ChildProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditq-archive-stream-'))
    store = await createEmbeddedStore({ dataDir: join(dir, 'data') })
    await store.migrate()
  })
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await store?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const env = (extra: Record<string, string> = {}) =>
    cliEnv({ AUDITQ_DATA_DIR: join(dir, 'data'), AUDITQ_STREAMS_SCAN_MS: '200', AUDITQ_STREAMS_POLL_MS: '100', AUDITQ_LOG_LEVEL: 'warn', ...extra })
  const cli = (args: string[], extra: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { env: env(extra), encoding: 'utf8', timeout: 60_000 })
  const serve = async (extra: Record<string, string>) => {
    const port = await freePort()
    const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--host', '127.0.0.1'], { env: env(extra), stdio: 'ignore' })
    children.push(child)
    return child
  }

  it('writes a signed archive that verifies offline and tells retention how far each tenant is archived', { timeout: 120_000 }, async () => {
    const key = join(dir, 'checkpoint.pem')
    expect(cli(['keygen', '--output', key]).status).toBe(0)
    const events = Array.from({ length: 300 }, (_, i) => storedEvent({ tenant_id: i % 3 ? 'acme' : 'globex', metadata: { i } }))
    await store.insertBatch(events)
    const archive = join(dir, 'archive')
    const created = cli(['streams', 'create', 'vault', '--sink', 'archive', '--url', pathToFileURL(archive).href, '--batch-size', '50'])
    expect(created.status, created.stderr).toBe(0)

    const server = await serve({ AUDITQ_SIGNING_KEY_FILE: key })
    try {
      // Retention's archive-before-delete reads these: how far each tenant's events are archived.
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        if ((await store.streams!.confirmedThrough('acme')) === 200 && (await store.streams!.confirmedThrough('globex')) === 100) break
        await sleep(250)
      }
      expect(await store.streams!.confirmedThrough('acme')).toBe(200)
      expect(await store.streams!.confirmedThrough('globex')).toBe(100)
      const result = cli(['verify', '--archive', archive, '--public-key', `${key}.pub`, '--json'])
      expect(result.status, result.stderr).toBe(0)
      const report = JSON.parse(result.stdout) as { intact: boolean; events: number }
      // The service's own start is in the trail too (its system tenant), so the archive holds it as well.
      expect(report.intact).toBe(true)
      expect(report.events).toBeGreaterThanOrEqual(events.length)
    } finally {
      server.kill('SIGTERM')
      await new Promise((resolve) => server.once('exit', resolve))
    }
  })

  it('parks an archive stream whose deliverer has no signing key, naming the setting', { timeout: 90_000 }, async () => {
    const archive = join(dir, 'unsigned')
    expect(cli(['streams', 'create', 'unsigned', '--sink', 'archive', '--url', pathToFileURL(archive).href]).status).toBe(0)
    const server = await serve({})
    const deadline = Date.now() + 45_000
    let shown = ''
    while (Date.now() < deadline) {
      shown = cli(['streams', 'show', 'unsigned']).stdout
      if (/AUDITQ_SIGNING_KEY_FILE/.test(shown)) break
      await sleep(250)
    }
    try {
      expect(shown).toMatch(/AUDITQ_SIGNING_KEY_FILE/)
      expect(shown).toMatch(/"state": "parked"/)
      expect(existsSync(join(archive, 'manifest.ndjson'))).toBe(false)
    } finally {
      server.kill('SIGTERM')
      await new Promise((resolve) => server.once('exit', resolve))
    }
  })
})
