/**
 * The fault-injection scenarios. Each gets a private deployment (deploy.ts), real `auditq` processes
 * from dist/ and producer children, and returns one row (campaign.ts). The guarantee each row is
 * judged against is the README's: queue mode (Redis durability, worker crashes, store outages),
 * spill, and direct mode's "accepted means committed".
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { run, onCleanup } from './cleanup.js'
import { runCampaign, sleep, type Row, type Timeline } from './campaign.js'
import { openDeployment, type Deployment } from './deploy.js'
import { HealthWatch } from './measure.js'
import { spawnCli, startProducer, startServe, type Child, type Producer } from './processes.js'

export interface ScenarioContext {
  seconds: number
  quick: boolean
}

export interface Scenario {
  name: string
  /** One line for --help and docs. */
  what: string
  /** A reason it cannot run here, or undefined. */
  skip?: () => string | undefined
  run: (ctx: ScenarioContext) => Promise<Row>
}

/** Offered load: modest, so 2 shared cores carry it and a backlog stays under the queue cap (10,000). */
const SDK_RATE = 200
const HTTP_RATE = 100
const TOTAL_RATE = SDK_RATE + HTTP_RATE

function producers(d: Deployment, seconds: number, sdkOptions: Record<string, unknown>): Producer[] {
  return [
    startProducer('sdk-producer', { kind: 'sdk', ratePerSecond: SDK_RATE, seconds: seconds + 30, maxInFlight: 400, sdkOptions }, d.env, d.dir),
    startProducer('http-producer', { kind: 'http', ratePerSecond: HTTP_RATE, seconds: seconds + 30, maxInFlight: 400, url: d.url, ...(d.apiKey ? { apiKey: d.apiKey } : {}), eventsPerRequest: 20 }, d.env, d.dir),
  ]
}

/** SDK options for a queue-mode producer on this deployment (its own spill dir, replay every 200 ms). */
function queueSdk(d: Deployment, spillDir = join(d.dataDir, 'sdk-spill')): Record<string, unknown> {
  return { databaseUrl: d.postgres!.url, redisUrl: d.redis!.url, queue: { spillDir, replayEveryMs: 200 } }
}

const at = (timeline: Timeline, seconds: number, fraction: number) => sleep(Math.max(0, timeline.loadStartedAt + seconds * fraction * 1000 - Date.now()))

function startWorker(d: Deployment, slot: number, generation = 0): Child {
  return spawnCli(`worker-${slot}-${generation}`, ['worker'], { ...d.env, AUDITQ_WORKER_SLOT: String(slot) }, d.dir)
}

const workerStarted = (worker: Child) => worker.waitFor(/queue worker started/, 120_000)

async function withDeployment(name: string, options: Parameters<typeof openDeployment>[1], body: (d: Deployment, children: Child[]) => Promise<Row>): Promise<Row> {
  const d = await openDeployment(name, options)
  const children: Child[] = []
  try {
    return await body(d, children)
  } catch (error) {
    for (const child of children) process.stderr.write(`--- ${child.name} (last output)\n${child.output().slice(-1_500)}\n`)
    throw error
  } finally {
    await Promise.all(children.map((child) => child.stop(5_000)))
    await d.destroy()
  }
}

const settle = (ctx: ScenarioContext) => (ctx.quick ? 45_000 : 75_000)

const workerKill: Scenario = {
  name: 'worker-kill',
  what: 'queue mode, 2 `auditq worker` processes; one is SIGKILLed every 3-6 s and restarted 1 s later',
  run: (ctx) =>
    withDeployment('worker-kill', { postgres: true, redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] }, async (d, children) => {
      children.push(await startServe('serve', d.port, d.env, d.dir, { worker: false }))
      const workers = [startWorker(d, 0), startWorker(d, 1)]
      children.push(...workers)
      await Promise.all(workers.map(workerStarted))
      const load = producers(d, ctx.seconds, queueSdk(d))
      children.push(...load.map((p) => p.child))
      return runCampaign('worker-kill', {
        deployment: d,
        seconds: ctx.seconds,
        producers: load,
        health: new HealthWatch(d.url, d.apiKey),
        settleTimeoutMs: settle(ctx),
        expectation: { allowedLoss: 0 },
        store: { kind: 'postgres', url: d.postgres!.url },
        fault: async (timeline) => {
          await at(timeline, ctx.seconds, 0.1)
          timeline.faultStartedAt = Date.now()
          let kills = 0
          const until = timeline.loadStartedAt + ctx.seconds * 850
          while (Date.now() < until) {
            const slot = Math.floor(Math.random() * workers.length)
            workers[slot]!.kill('SIGKILL')
            await workers[slot]!.exited
            kills++
            await sleep(1_000)
            workers[slot] = startWorker(d, slot, kills)
            children.push(workers[slot]!)
            // Kill a worker that is working, not one still starting (slow on a busy machine).
            await workerStarted(workers[slot]!)
            await sleep(3_000 + Math.random() * 3_000)
          }
          timeline.faultEndedAt = Date.now()
          timeline.notes.push(`${kills} worker SIGKILLs, each restarted (same consumer slot) 1 s later`)
        },
      })
    }),
}

const PERSISTENCE: Record<string, { args: string[]; allowedLoss: number; documented?: string }> = {
  none: { args: [], allowedLoss: Number.POSITIVE_INFINITY, documented: 'README "Redis durability": with no persistence a Redis crash loses everything queued' },
  everysec: {
    args: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
    allowedLoss: TOTAL_RATE * 2,
    documented: 'README "Redis durability": appendfsync everysec loses about one second (bound used: 2 s of arrivals)',
  },
  always: { args: ['--appendonly', 'yes', '--appendfsync', 'always'], allowedLoss: 0 },
}

function redisKill(persistence: keyof typeof PERSISTENCE): Scenario {
  const setting = PERSISTENCE[persistence]!
  const name = `redis-kill-${persistence}`
  return {
    name,
    what: `queue mode, no worker while a backlog builds; Redis (persistence: ${persistence}) is kill -9ed and restarted 3 s later, then a worker starts`,
    run: (ctx) =>
      withDeployment(name, { postgres: true, redisArgs: setting.args }, async (d, children) => {
        children.push(await startServe('serve', d.port, d.env, d.dir, { worker: false }))
        const load = producers(d, ctx.seconds, queueSdk(d))
        children.push(...load.map((p) => p.child))
        return runCampaign(name, {
          deployment: d,
          seconds: ctx.seconds,
          producers: load,
          health: new HealthWatch(d.url, d.apiKey),
          settleTimeoutMs: settle(ctx),
          expectation: { allowedLoss: setting.allowedLoss, ...(setting.documented ? { documented: setting.documented } : {}) },
          store: { kind: 'postgres', url: d.postgres!.url },
          fault: async (timeline) => {
            await at(timeline, ctx.seconds, 0.5)
            const probe = d.redis!.client()
            const backlog = await probe.xlen('auditq:{default}:events').catch(() => Number.NaN)
            probe.disconnect()
            timeline.faultStartedAt = Date.now()
            await d.redis!.kill()
            await sleep(3_000)
            await d.redis!.restart()
            timeline.faultEndedAt = Date.now()
            children.push(startWorker(d, 0))
            timeline.notes.push(`backlog at the kill: ${backlog} stream entries; Redis down 3 s; worker started when Redis was back`)
          },
        })
      }),
  }
}

function pgStop(mode: 'queue' | 'direct'): Scenario {
  const name = `pg-stop-${mode}`
  return {
    name,
    what: `${mode} mode, HTTP ingest through \`auditq serve\` with an API key + an SDK producer; PostgreSQL stopped (-m immediate) at 30 % of the load and started again a quarter of --seconds later (at least 5 s)`,
    run: (ctx) =>
      withDeployment(name, { postgres: true, ...(mode === 'queue' ? { redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] } : {}) }, async (d, children) => {
        // Queue mode: the service with its in-process worker (the single-process deployment).
        children.push(await startServe('serve', d.port, d.env, d.dir, { worker: true }))
        const load = producers(d, ctx.seconds, mode === 'queue' ? queueSdk(d) : { databaseUrl: d.postgres!.url })
        children.push(...load.map((p) => p.child))
        const downSeconds = ctx.quick ? 5 : Math.max(5, Math.round(ctx.seconds / 4))
        return runCampaign(name, {
          deployment: d,
          seconds: ctx.seconds,
          producers: load,
          health: new HealthWatch(d.url, d.apiKey),
          settleTimeoutMs: settle(ctx),
          expectation: { allowedLoss: 0 },
          store: { kind: 'postgres', url: d.postgres!.url },
          fault: async (timeline) => {
            await at(timeline, ctx.seconds, 0.3)
            timeline.faultStartedAt = Date.now()
            d.postgres!.stopImmediate()
            await sleep(downSeconds * 1000)
            d.postgres!.start()
            timeline.faultEndedAt = Date.now()
            timeline.notes.push(`PostgreSQL down ${((timeline.faultEndedAt - timeline.faultStartedAt) / 1000).toFixed(1)} s (pg_ctl stop -m immediate, then start)`)
          },
        })
      }),
  }
}

/** Ballast leaves this much room on the tmpfs for the spill journals. */
const SPILL_ROOM_BYTES = 1024 * 1024

const diskFull: Scenario = {
  name: 'spill-disk-full',
  what: 'queue mode, spill journals on a small tmpfs filled to ~1 MiB free; Redis killed so events spill until the disk is full; then space freed and Redis back',
  skip: () => (userInfo().uid === 0 ? undefined : 'mounting a tmpfs needs root; run as root (or in a container) to include it'),
  run: (ctx) =>
    withDeployment('spill-disk-full', { postgres: true, redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] }, async (d, children) => {
      const mount = join(d.dir, 'spillfs')
      mkdirSync(mount)
      run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount])
      // Registered after the dir (so it runs before it is removed): a mounted dir cannot be deleted.
      const unmount = onCleanup(`tmpfs at ${mount}`, () => run('umount', ['-l', mount]))
      try {
        const ballast = join(mount, 'ballast')
        writeFileSync(ballast, Buffer.alloc(8 * 1024 * 1024 - SPILL_ROOM_BYTES - 64 * 1024))
        const env = { ...d.env, AUDITQ_SPILL_DIR: join(mount, 'serve') }
        children.push(await startServe('serve', d.port, env, d.dir, { worker: false }))
        const worker = startWorker(d, 0)
        children.push(worker)
        await workerStarted(worker)
        const load = producers({ ...d, env }, ctx.seconds, queueSdk(d, join(mount, 'sdk')))
        children.push(...load.map((p) => p.child))
        return await runCampaign('spill-disk-full', {
          deployment: d,
          seconds: ctx.seconds,
          producers: load,
          health: new HealthWatch(d.url, d.apiKey),
          settleTimeoutMs: settle(ctx),
          expectation: { allowedLoss: 0 },
          store: { kind: 'postgres', url: d.postgres!.url },
          fault: async (timeline) => {
            await at(timeline, ctx.seconds, 0.2)
            timeline.faultStartedAt = Date.now()
            await d.redis!.kill()
            await at(timeline, ctx.seconds, 0.55)
            const full = run('df', ['-k', '--output=avail', mount]).trim().split('\n').pop()?.trim()
            rmSync(ballast)
            await sleep(2_000)
            await d.redis!.restart()
            timeline.faultEndedAt = Date.now()
            timeline.notes.push(`Redis down ${((timeline.faultEndedAt - timeline.faultStartedAt) / 1000).toFixed(1)} s; spill tmpfs 8 MiB with ~1 MiB free, ${full} KiB free just before the ballast was deleted`)
          },
          beforeCount: async () => {
            await Promise.all(children.map((child) => child.stop(10_000)))
          },
        })
      } finally {
        await Promise.all(children.map((child) => child.stop(5_000)))
        unmount()
      }
    }),
}

const embeddedTwoWriters: Scenario = {
  name: 'embedded-two-writers',
  what: 'embedded store: `auditq serve` (HTTP ingest) and an SDK process write one data directory at once',
  run: (ctx) =>
    withDeployment('embedded-two-writers', { postgres: false }, async (d, children) => {
      const serve = await startServe('serve', d.port, d.env, d.dir, { worker: false })
      children.push(serve)
      const load = producers(d, ctx.seconds, { dataDir: d.dataDir })
      children.push(...load.map((p) => p.child))
      const file = join(d.dataDir, 'auditq.db')
      return runCampaign('embedded-two-writers', {
        deployment: d,
        seconds: ctx.seconds,
        producers: load,
        health: new HealthWatch(d.url, undefined),
        settleTimeoutMs: 0,
        expectation: { allowedLoss: 0 },
        store: { kind: 'sqlite', file },
        fault: async (timeline) => {
          timeline.faultStartedAt = timeline.loadStartedAt
          timeline.notes.push('two writer processes on one SQLite file for the whole run (no other fault)')
        },
        beforeCount: async () => {
          await serve.stop(20_000)
          if (!existsSync(file)) throw new Error(`no store file at ${file}`)
        },
      })
    }),
}

export const SCENARIOS: Scenario[] = [workerKill, redisKill('none'), redisKill('everysec'), redisKill('always'), pgStop('queue'), pgStop('direct'), diskFull, embeddedTwoWriters]
