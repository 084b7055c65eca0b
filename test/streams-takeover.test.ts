/**
 * Two `auditq serve` processes on one PostgreSQL store deliver one stream: exactly one holds it at
 * a time; the holder is SIGKILLed mid-delivery and the other takes over from the persisted
 * position. Every event arrives; the only duplicates are the batch in flight at the kill. The
 * stream is created and inspected with the CLI, as an operator would.
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { CLI } from './support/cli.js'
import { storedEvent } from './support/events.js'
import { freePort } from './support/free-port.js'
import { useStreamsRig } from './support/streams-rig.js'
import { until } from './support/wait.js'

const EVENTS = 1_200
const BATCH = 40

describe('stream takeover between processes', () => {
  const rig = useStreamsRig('streams_takeover')
  const { env, receiver } = rig

  async function serve(): Promise<ChildProcess> {
    const port = await freePort()
    return rig.spawnCli(['serve', '--port', String(port), '--host', '127.0.0.1'])
  }

  it('never has two deliverers at once, and the survivor resumes from the stored position after a SIGKILL', { timeout: 90_000 }, async (ctx) => {
    if (!rig.available) return ctx.skip()
    const events = Array.from({ length: EVENTS }, (_, i) => storedEvent({ tenant_id: i % 3 ? 'acme' : 'globex', metadata: { i } }))
    for (let i = 0; i < EVENTS; i += 400) await rig.store.insertBatch(events.slice(i, i + 400))
    const created = rig.createWebhookStream({ name: 'siem', batchSize: BATCH })
    expect(created.stderr).toContain('created stream siem')
    expect(created.status).toBe(0)
    // The stream follows the application's tenants: each `serve` also records its own start in the
    // access trail (tenant auditq), which an all-tenant stream would deliver too.
    // Slow acknowledgements, so a second deliverer would show up as overlapping requests.
    receiver.delayMs = 25
    const startedAt = Date.now()
    const a = await serve()
    const b = await serve()
    await until(() => receiver.requests.length >= 5, 'the first deliveries', 30_000)
    const holder = (await rig.store.streams!.get('siem'))!.lease_owner!
    const victim = [a, b].find((child) => holder.includes(`/${child.pid}/`))!
    const survivor = victim === a ? b : a
    victim.kill('SIGKILL')
    const killedAt = Date.now()
    await until(async () => (await rig.store.streams!.get('siem'))!.delivered >= EVENTS, 'every event delivered', 60_000)

    const stream = (await rig.store.streams!.get('siem'))!
    expect(stream.lease_owner).toContain(`/${survivor.pid}/`)
    expect(receiver.maxInFlight).toBe(1)
    const ids = receiver.acknowledgedLines().map((line) => line['id'] as string)
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)))
    const duplicates = ids.length - new Set(ids).size
    expect(duplicates).toBeLessThanOrEqual(BATCH)
    // The survivor waited for the lease to expire before sending anything.
    const firstAfter = receiver.requests.find((r) => r.at > killedAt + 100)!
    expect(firstAfter.at - killedAt).toBeGreaterThanOrEqual(1_000)
    const shown = spawnSync(process.execPath, [CLI, 'streams', 'show', 'siem'], { env, encoding: 'utf8' })
    expect(JSON.parse(shown.stdout)).toMatchObject({ name: 'siem', state: 'active', delivered: EVENTS, sink: { options: { secret: '********' } } })
    process.stderr.write(`takeover: ${duplicates} duplicate events (the batch in flight), ${ids.length} received; first request ${receiver.requests[0]!.at - startedAt} ms after start, killed at ${killedAt - startedAt}, done ${Date.now() - startedAt}, requests ${receiver.requests.length}\n`)
  })
})
