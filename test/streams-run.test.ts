/**
 * The deployment where ingest keeps its cores: `auditq serve` with AUDITQ_STREAMS_ENABLED=false
 * takes the events, and two `auditq streams run` processes (one niced) deliver the stream to a
 * real webhook receiver. `serve` never delivers; one `streams run` holds the lease at a time; a
 * SIGTERM-stopped holder finishes its batch and lets the lease go, and the other continues from
 * the stored position: every event arrives once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import type { Store } from '../src/store/store.js'
import { CLI, cliEnv } from './support/cli.js'
import { freePort } from './support/free-port.js'
import { dropSchemas, postgresAvailable, POSTGRES_URL, uniqueSchema } from './support/services.js'
import { WebhookReceiver } from './support/webhook-receiver.js'

const schema = uniqueSchema('streams_run')
const env = cliEnv({ AUDITQ_DATABASE_URL: POSTGRES_URL, AUDITQ_DATABASE_SCHEMA: schema, AUDITQ_STREAMS_LEASE_TTL_MS: '2000', AUDITQ_STREAMS_SCAN_MS: '200', AUDITQ_STREAMS_POLL_MS: '100', AUDITQ_LOG_LEVEL: 'warn' })
const EVENTS = 1_000
const BATCH = 50

describe('auditq streams run', () => {
  let available = true
  let store: Store
  const children: ChildProcess[] = []
  const receiver = new WebhookReceiver('k')

  beforeAll(async () => {
    available = await postgresAvailable()
    if (!available) return
    store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    await receiver.start()
  })
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await receiver.kill()
    if (!available) return
    await store.close()
    await dropSchemas([schema])
  })

  function start(args: string[], extra: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('exit', (code) => code && process.stderr.write(`${args.join(' ')} exited ${code}: ${stderr}\n`))
    children.push(child)
    return child
  }

  it('delivers beside a serve that does not, one holder at a time, and hands over on SIGTERM without duplicates', { timeout: 90_000 }, async (ctx) => {
    if (!available) return ctx.skip()
    const port = await freePort()
    const serve = start(['serve', '--port', String(port), '--host', '127.0.0.1'], { AUDITQ_STREAMS_ENABLED: 'false' })
    const created = spawnSync(process.execPath, [CLI, 'streams', 'create', 'siem', '--sink', 'webhook', '--url', receiver.url, '--secret', 'k', '--batch-size', String(BATCH), '--tenants', 'acme,globex'], { env, encoding: 'utf8' })
    expect(created.status).toBe(0)
    await until(async () => (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null))?.ok === true, 30_000)
    const ids: string[] = []
    for (let i = 0; i < EVENTS; i += 100) {
      const body = Array.from({ length: 100 }, (_, j) => ({ tenant_id: (i + j) % 3 ? 'acme' : 'globex', actor_id: 'u1', actor_type: 'user', action: 'user.login', resource_type: 'session', resource_id: `s${i + j}`, metadata: { i: i + j } }))
      const response = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      expect(response.status).toBe(202)
      ids.push(...((await response.json()) as { ids: string[] }).ids)
    }
    // The serve process delivers nothing while no deliverer runs.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(receiver.requests).toHaveLength(0)
    expect((await store.streams!.get('siem'))!.lease_owner).toBeNull()

    receiver.delayMs = 25
    const niced = start(['streams', 'run', '--nice', '10'])
    const plain = start(['streams', 'run'])
    await until(() => receiver.requests.length >= 3, 30_000)
    // Every thread of the niced process runs at niceness 10 (Linux; field 19 of /proc/…/stat).
    if (process.platform === 'linux') {
      const threads = readdirSync(`/proc/${niced.pid}/task`)
      const nices = threads.map((tid) => Number(readFileSync(`/proc/${niced.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]))
      expect(new Set(nices)).toEqual(new Set([10]))
    }
    const holder = (await store.streams!.get('siem'))!.lease_owner!
    expect(holder).toMatch(/\/streams\//)
    expect(holder).not.toContain(`/${serve.pid}/`)
    const victim = holder.includes(`/${niced.pid}/`) ? niced : plain
    const survivor = victim === niced ? plain : niced
    victim.kill('SIGTERM')
    const exited = await new Promise<number | null>((resolve) => victim.once('exit', resolve))
    expect(exited).toBe(0)
    await until(async () => (await store.streams!.get('siem'))!.delivered >= EVENTS, 60_000)

    expect((await store.streams!.get('siem'))!.lease_owner).toContain(`/${survivor.pid}/`)
    expect(receiver.maxInFlight).toBe(1)
    const received = receiver.acknowledgedLines().map((line) => line['id'] as string)
    expect(received.length).toBe(EVENTS)
    expect(new Set(received)).toEqual(new Set(ids))
  })

  it('refuses a niceness out of range, naming the setting', (ctx) => {
    if (!available) return ctx.skip()
    const result = spawnSync(process.execPath, [CLI, 'streams', 'run', '--nice', '25'], { env, encoding: 'utf8' })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('streams.processNice')
  })
})

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
