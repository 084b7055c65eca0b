/**
 * The deployment where ingest keeps its cores: `auditq serve` with AUDITQ_STREAMS_ENABLED=false
 * takes the events, and two `auditq streams run` processes (one niced) deliver the stream to a
 * real webhook receiver. `serve` never delivers; one `streams run` holds the lease at a time; a
 * SIGTERM-stopped holder finishes its batch and lets the lease go, and the other continues from
 * the stored position: every event arrives once.
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CLI } from './support/cli.js'
import { freePort } from './support/free-port.js'
import { useStreamsRig } from './support/streams-rig.js'
import { until } from './support/wait.js'

const EVENTS = 1_000
const BATCH = 50

describe('auditq streams run', () => {
  const rig = useStreamsRig('streams_run')
  const { env, receiver } = rig

  function start(args: string[], extra: Record<string, string> = {}): ChildProcess {
    const child = rig.spawnCli(args, extra)
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('exit', (code) => code && process.stderr.write(`${args.join(' ')} exited ${code}: ${stderr}\n`))
    return child
  }

  it('delivers beside a serve that does not, one holder at a time, and hands over on SIGTERM without duplicates', { timeout: 90_000 }, async (ctx) => {
    if (!rig.available) return ctx.skip()
    const port = await freePort()
    const serve = start(['serve', '--port', String(port), '--host', '127.0.0.1'], { AUDITQ_STREAMS_ENABLED: 'false' })
    const created = rig.createWebhookStream({ name: 'siem', batchSize: BATCH })
    expect(created.status).toBe(0)
    await until(async () => (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null))?.ok === true, 'serve to answer', 30_000)
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
    expect((await rig.store.streams!.get('siem'))!.lease_owner).toBeNull()

    receiver.delayMs = 25
    const niced = start(['streams', 'run', '--nice', '10'])
    const plain = start(['streams', 'run'])
    await until(() => receiver.requests.length >= 3, 'the first deliveries', 30_000)
    // Every thread of the niced process runs at niceness 10 (Linux; field 19 of /proc/…/stat).
    if (process.platform === 'linux') {
      const threads = readdirSync(`/proc/${niced.pid}/task`)
      const nices = threads.map((tid) => Number(readFileSync(`/proc/${niced.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]))
      expect(new Set(nices)).toEqual(new Set([10]))
    }
    const holder = (await rig.store.streams!.get('siem'))!.lease_owner!
    expect(holder).toMatch(/\/streams\//)
    expect(holder).not.toContain(`/${serve.pid}/`)
    const victim = holder.includes(`/${niced.pid}/`) ? niced : plain
    const survivor = victim === niced ? plain : niced
    victim.kill('SIGTERM')
    const exited = await new Promise<number | null>((resolve) => victim.once('exit', resolve))
    expect(exited).toBe(0)
    await until(async () => (await rig.store.streams!.get('siem'))!.delivered >= EVENTS, 'every event delivered', 60_000)

    expect((await rig.store.streams!.get('siem'))!.lease_owner).toContain(`/${survivor.pid}/`)
    expect(receiver.maxInFlight).toBe(1)
    const received = receiver.acknowledgedLines().map((line) => line['id'] as string)
    expect(received.length).toBe(EVENTS)
    expect(new Set(received)).toEqual(new Set(ids))
  })

  it('refuses a niceness out of range, naming the setting', (ctx) => {
    if (!rig.available) return ctx.skip()
    const result = spawnSync(process.execPath, [CLI, 'streams', 'run', '--nice', '25'], { env, encoding: 'utf8' })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('streams.processNice')
  })
})
