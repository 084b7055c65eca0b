/**
 * `auditq tail` as a user runs it (the built CLI, a real store of each kind): every event once,
 * oldest first, resumable from the cursor it prints; OCSF lines; a bad cursor named; and
 * `--follow` printing an event another process commits, timed.
 */
import { spawn, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { CLI, cliEnv } from '../../test/support/cli.js'
import { storedEvent } from '../../test/support/events.js'
import { validateOcsf } from '../../test/support/ocsf-schema.js'
import { encodeFeedCursor } from '../feed/cursor.js'
import { POSTGRES_URL, postgresAvailable } from '../../test/support/services.js'

const hasPostgres = await postgresAvailable()
const kinds: StoreKind[] = hasPostgres ? ['embedded', 'postgres'] : ['embedded']

// Each spawn costs a CLI start (seconds on a loaded machine): the store-independent cases run on
// the embedded store only (both stores' feeds are held to one contract), --follow on both.
describe.each(kinds)('auditq tail (%s)', (kind) => {
  let t: TestStore
  let args: string[]
  let env: NodeJS.ProcessEnv
  beforeAll(async () => {
    t = await freshStore(kind)
    args = t.location.databaseUrl ? ['--database-url', POSTGRES_URL] : ['--data-dir', t.location.dataDir]
    env = cliEnv({ ...(t.location.databaseSchema ? { AUDITQ_DATABASE_SCHEMA: t.location.databaseSchema } : {}), AUDITQ_FEED_POLL_MS: '100' })
  })
  afterAll(() => t.dispose())

  const tail = (...more: string[]) => {
    const result = spawnSync(process.execPath, [CLI, ...args, 'tail', ...more], { encoding: 'utf8', env })
    return { code: result.status, lines: result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>), stderr: result.stderr }
  }
  const nextOf = (stderr: string) => /next: --after (\S+)/.exec(stderr)![1]!

  it.skipIf(kind !== 'embedded')('prints every event once, oldest first, and resumes after the cursor it names', async () => {
    const first = [storedEvent({ tenant_id: 'acme', action: 'doc.read' }), storedEvent({ tenant_id: 'globex', action: 'user.login' })]
    await t.store.insertBatch(first)
    const all = tail('--limit', '1')
    expect(all.code).toBe(0)
    // Every tenant but auditq's own access trail, where each run is recorded.
    expect(all.lines.map((line) => line.event.id).sort()).toEqual(first.map((e) => e.id).sort())
    const acme = tail('--tenant', 'acme')
    expect(acme.lines.map((line) => [line.event.id, line.seq])).toEqual([[first[0]!.id, 1]])
    // Named, the trail is read like any tenant: one record per run, whatever its number of pages,
    // written before its first read (so this run finds its own record last).
    const trail = tail('--tenant', 'auditq')
    expect(trail.lines.map((line) => [line.event.action, line.event.resource_id, line.event.actor_type, line.event.metadata.what])).toEqual([
      ['auditq.feed.read', '*', 'cli', { format: 'json', follow: false }],
      ['auditq.feed.read', 'acme', 'cli', { tenant_id: 'acme', format: 'json', follow: false }],
      ['auditq.feed.read', 'auditq', 'cli', { tenant_id: 'auditq', format: 'json', follow: false }],
    ])
    const later = storedEvent({ tenant_id: 'acme', action: 'doc.updated' })
    await t.store.insertBatch([later])
    const resumed = tail('--tenant', 'acme', '--after', nextOf(acme.stderr))
    expect(resumed.lines.map((line) => line.event.id)).toEqual([later.id])
    // One event a page: the access-trail records between the first events and `later` make pages
    // that are empty yet move on; the run goes past them instead of stopping there.
    const again = tail('--limit', '1')
    expect(again.lines.map((line) => line.event.id)).toEqual([...first, later].map((e) => e.id))
  })

  it.skipIf(kind !== 'embedded')('prints OCSF lines that hold to the schema', () => {
    const { code, lines } = tail('--format', 'ocsf')
    expect(code).toBe(0)
    expect(lines.length).toBeGreaterThan(0)
    const classes: Record<number, string> = { 6003: 'api_activity', 3002: 'authentication', 3001: 'account_change' }
    for (const line of lines) expect(validateOcsf(classes[line.class_uid]!, line)).toEqual([])
  })

  it.skipIf(kind !== 'embedded')('refuses a malformed cursor or another tenant\'s, naming --after, with exit code 2', () => {
    const acmeCursor = encodeFeedCursor({ scope: 'tenant', tenant: 'acme', seq: 1 })
    for (const bad of [['--after', 'nonsense!'], ['--tenant', 'globex', '--after', acmeCursor]]) {
      const result = tail(...bad)
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/after: .*\[AUDITQ_BAD_REQUEST\]/)
    }
  })

  it('--follow prints an event another process commits, well within a second when idle', async () => {
    await t.store.insertBatch([storedEvent({ tenant_id: 'acme', action: 'doc.before' })])
    const child = spawn(process.execPath, [CLI, ...args, 'tail', '--follow'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      // Started, printed what was stored, and now idle.
      for (const deadline = Date.now() + 30_000; !err.includes('caught up'); ) {
        if (Date.now() > deadline) throw new Error(`tail --follow never caught up; stderr: ${err}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(out).toContain('doc.before')
      await new Promise((resolve) => setTimeout(resolve, 300))
      const samples: number[] = []
      for (let i = 0; i < 3; i++) {
        const event = storedEvent({ tenant_id: 'acme', action: 'doc.followed' })
        const sent = performance.now()
        await t.store.insertBatch([event])
        while (!out.includes(event.id)) {
          if (performance.now() - sent > 10_000) throw new Error(`tail --follow did not print ${event.id}; stderr: ${err}`)
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        samples.push(performance.now() - sent)
        await new Promise((resolve) => setTimeout(resolve, 300))
      }
      console.log(`tail --follow latency (${kind}, poll 100 ms): ${samples.map((ms) => ms.toFixed(0)).join('/')} ms`)
      for (const ms of samples) expect(ms).toBeLessThan(2_000)
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    expect(err).toMatch(/next: --after \S+/)
  }, 60_000)
})
