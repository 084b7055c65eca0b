/**
 * Stream benchmark: `auditq serve` (in process, PostgreSQL store) under closed-loop HTTP ingest, in
 * direct and in queue mode, with and without two streams running (a signed webhook to a local
 * receiver, syslog to a real rsyslogd over TCP). Per round, per mode, the variants rotate (a
 * different one first every round) on fresh schemas; tables give medians over rounds.
 *
 *   npm run bench:streams -- --seconds 10 --runs 3 --outage-seconds 60
 *   npm run bench:streams -- --deliverers in-process,separate,separate-idle
 *   npm run bench:streams -- --layout two-hosts --deliverers separate --warmup 1 --runs 5 --outage-seconds 0
 *   npm run bench:streams -- --layout two-hosts --deliverers separate --warmup 1 --runs 5 --outage-seconds 0 --feed-replica --busy-neighbour
 *
 * Where the deliverers run (`--deliverers`, comma-separated, each measured against the same
 * round's no-streams baseline):
 * - `in-process`: inside the `serve` process (AUDITQ_STREAMS_ENABLED=true, the default);
 * - `separate`: `serve` with streams off and a child `auditq streams run` process;
 * - `separate-niced`: the same, the child at AUDITQ_STREAMS_NICE=`--nice` (only means something
 *   when this bench itself runs at a lower niceness than that);
 * - `separate-idle`: the child under `chrt --idle 0` (Linux SCHED_IDLE: CPU only when nothing else
 *   wants it; what an unprivileged process can ask for below niceness 19).
 *
 * Where everything runs (`--layout`):
 * - `shared` (default): every process on every CPU of this machine, as one host runs it all;
 * - `two-hosts`: the deployment docs/streaming.md recommends, on one machine. The ingest side (this
 *   process: load generator and `serve`; PostgreSQL and Redis, so feed reads cost the database's
 *   host) is pinned to `--ingest-cpus`, the delivery side (`auditq streams run`, the webhook
 *   receiver in a child process, rsyslogd) to `--delivery-cpus` (bench/streams/cpu-layout.ts).
 *   The no-streams baseline runs in the same layout, so the change is what streaming costs an
 *   ingest host whose deliverers and SIEM run elsewhere.
 *   With `--feed-replica` the deliverers read the feed from a hot standby on the delivery CPUs
 *   (bench/streams/feed-replica.ts); with `--busy-neighbour` a second no-streams baseline runs with
 *   the delivery CPUs kept busy by an unrelated load, to tell what a busy core next door costs the
 *   ingest core on one machine from what streaming costs (bench/streams/busy-neighbour.ts).
 *
 * Figures:
 * - ingest events/s with streams against without (same round, same mode): the cost of streaming;
 * - delivery events/s per sink: delivered events ÷ (first delivery → caught up);
 * - intake → acknowledged lag p50/p99 at the webhook receiver: its clock at the response minus the
 *   event's `received_at` (in queue mode this includes the queue wait before the commit);
 * - catch-up: the webhook receiver is down for `--outage-seconds` while ingest runs at a fixed
 *   rate; then the backlog's size and the rate at which the stream drains it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Redis } from 'ioredis'
import { loadConfig, type ConfigInput } from '../src/config.js'
import { startService, type RunningService } from '../src/service/service.js'
import { createLogger } from '../src/util/logger.js'
import { Rsyslog } from '../test/support/rsyslog.js'
import { freePort } from '../test/support/free-port.js'
import { CpuMeter } from './e2e/cpu.js'
import { sampleEvent } from './event.js'
import { median, percentile, printTable } from './stats.js'
import { CpuLayout, pin } from './streams/cpu-layout.js'
import { feedReadsPerLinkRow } from './streams/feed-reads.js'
import { startFeedReplica } from './streams/feed-replica.js'
import { startNeighbour, stopNeighbour } from './streams/busy-neighbour.js'
import { ChildReceiver, Receiver, type WebhookReceiver } from './streams/receiver.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0' },
    modes: { type: 'string', default: 'direct,queue' },
    concurrency: { type: 'string', default: '8' },
    'batch-events': { type: 'string', default: '100' },
    'outage-seconds': { type: 'string', default: '60' },
    'outage-rate': { type: 'string', default: '2000' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'redis-url': { type: 'string', default: process.env.AUDITQ_REDIS_URL ?? 'redis://127.0.0.1:6379/5' },
    deliverers: { type: 'string', default: 'in-process' },
    nice: { type: 'string', default: '19' },
    'outage-deliverers': { type: 'string' },
    layout: { type: 'string', default: 'shared' },
    'ingest-cpus': { type: 'string', default: '0' },
    'delivery-cpus': { type: 'string', default: '1' },
    'feed-replica': { type: 'boolean', default: false },
    'busy-neighbour': { type: 'boolean', default: false },
  },
})
if (values.layout !== 'shared' && values.layout !== 'two-hosts') throw new Error(`--layout: "${values.layout}" is not one of shared, two-hosts`)
const DELIVERERS = ['in-process', 'separate', 'separate-niced', 'separate-idle'] as const
type Deliverers = (typeof DELIVERERS)[number]
/** `none-busy`: no streams, the delivery CPUs kept busy (bench/streams/busy-neighbour.ts). */
type Variant = 'none' | 'none-busy' | Deliverers
const withoutStreams = (variant: Variant): variant is 'none' | 'none-busy' => variant === 'none' || variant === 'none-busy'
const variants = values.deliverers.split(',') as Deliverers[]
for (const v of [...variants, values['outage-deliverers'] ?? variants[0]!]) if (!DELIVERERS.includes(v as Deliverers)) throw new Error(`--deliverers: "${v}" is not one of ${DELIVERERS.join(', ')}`)
/** The built CLI (`npm run build`; the npm script builds it first). */
const CLI = new URL('../../dist/cli/index.js', import.meta.url).pathname
const seconds = Number(values.seconds)
const runs = Number(values.runs)
const concurrency = Number(values.concurrency)
const batchEvents = Number(values['batch-events'])
const log = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`)

if (values['busy-neighbour'] && values.layout !== 'two-hosts') throw new Error('--busy-neighbour: needs --layout two-hosts')
if (values['feed-replica'] && (values.layout !== 'two-hosts' || variants.includes('in-process'))) {
  throw new Error('--feed-replica: needs --layout two-hosts and deliverers in their own process (not in-process)')
}
/** With `--feed-replica`, a private primary and its standby (bench/streams/feed-replica.ts). */
const feedReplica = values['feed-replica'] ? await startFeedReplica() : null
if (feedReplica) process.once('exit', () => feedReplica.killNow())
const databaseUrl = feedReplica?.primaryUrl ?? values['database-url']!

const layout = values.layout === 'two-hosts' ? new CpuLayout(values['ingest-cpus'], values['delivery-cpus']) : null
if (layout) log(`layout two-hosts: ingest side on CPUs ${layout.ingest} (${layout.pinIngestSide()}), delivery side on CPUs ${layout.delivery}`)
if (layout && feedReplica) {
  feedReplica.pinReplica(layout.delivery)
  log(`feed replica: deliverers read the feed from a standby on CPUs ${layout.delivery}; ingest writes to its private primary`)
}

/** The webhook receiver: in this process, or on the delivery CPUs in a child of its own. */
async function startReceiver(): Promise<WebhookReceiver> {
  const receiver = layout ? new ChildReceiver(layout.deliveryPrefix) : new Receiver()
  await receiver.start()
  return receiver
}

/** A real rsyslogd, on the delivery CPUs in the two-hosts layout. */
async function startRsyslog(): Promise<Rsyslog> {
  const rsyslog = new Rsyslog()
  await rsyslog.start()
  if (layout && rsyslog.pid !== undefined) pin(rsyslog.pid, layout.delivery)
  return rsyslog
}

interface Outcome {
  ingestPerSecond: number
  /**
   * Events ÷ (ingest start → every event stored). In queue mode the rate above is how fast the
   * service accepted (the queue absorbs); this one is how fast it stored. Direct mode: the same.
   */
  storedPerSecond: number
  /**
   * CPU of this process (load generator, `serve`, in-process deliverers) per ingested event, from
   * ingest start until everything is stored: what the burst cost the ingest process, robust to
   * other load on the machine in a way the rate is not.
   */
  ingestCpuUsPerEvent: number
  /** CPU of a separate deliverer process from ingest start to caught up, per delivered event (both streams). */
  delivererCpuUsPerEvent?: number
  /** CPU of every PostgreSQL process from ingest start to stored (no streams) or caught up, per ingested event. */
  postgresCpuUsPerEvent: number
  /** With `--feed-replica`: CPU of the standby's processes (replay and feed reads) per ingested event. */
  replicaCpuUsPerEvent?: number
  /** Times each stored link row was read through the all-tenants feed's index (bench/streams/feed-reads.ts). */
  feedReadsPerLinkRow?: number
  ingested: number
  delivery?: {
    webhookPerSecond: number
    syslogPerSecond: number
    lagP50Ms: number
    lagP99Ms: number
    /** Lag of the events acknowledged while ingest ran, and of those acknowledged after it ended. */
    duringP50Ms: number | null
    duringP99Ms: number | null
    afterP50Ms: number | null
    afterP99Ms: number | null
    /** Share of events acknowledged while ingest ran. */
    duringShare: number
    /** Ingest end → both streams caught up. */
    catchUpSeconds: number
  }
}

/** A child `auditq streams run` on the bench's schema: the deliverers outside the ingest process. */
function startDeliverers(variant: Deliverers, schema: string): ChildProcess | undefined {
  if (variant === 'in-process') return undefined
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AUDITQ_'))),
    AUDITQ_DATABASE_URL: databaseUrl,
    ...(feedReplica ? { AUDITQ_DATABASE_READ_URL: feedReplica.replicaUrl } : {}),
    AUDITQ_DATABASE_SCHEMA: schema,
    AUDITQ_LOG_LEVEL: 'warn',
    AUDITQ_STREAMS_POLL_MS: '50',
    AUDITQ_STREAMS_SCAN_MS: '200',
    ...(variant === 'separate-niced' ? { AUDITQ_STREAMS_NICE: values.nice } : {}),
  }
  const argv = [...(layout?.deliveryPrefix ?? []), ...(variant === 'separate-idle' ? ['chrt', '--idle', '0'] : []), process.execPath, CLI, 'streams', 'run']
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'inherit'] })
  child.once('exit', (code, signal) => code !== 0 && signal !== 'SIGTERM' && log(`streams run exited (${code ?? signal})`))
  return child
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** Both streams held by a deliverer, so every variant starts ingest with its deliverers running. */
async function leasesHeld(service: RunningService): Promise<void> {
  const end = Date.now() + 60_000
  while ((await service.store.streams!.list()).some((s) => !s.lease_owner || !s.lease_expires_at || Date.parse(s.lease_expires_at) < Date.now())) {
    if (Date.now() > end) throw new Error('no deliverer took the streams')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function withService<T>(mode: string, variant: Variant, fn: (service: RunningService, schema: string, child: ChildProcess | undefined) => Promise<T>): Promise<T> {
  const schema = `bench_streams_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const overrides: Partial<ConfigInput> = {
    databaseUrl,
    databaseSchema: schema,
    port: await freePort(),
    host: '127.0.0.1',
    logLevel: 'silent',
    security: { rateLimitPerSecond: 0 },
    streams: { enabled: variant === 'in-process', pollMs: 50, scanEveryMs: 200 },
    ...(mode === 'queue' ? { redisUrl: values['redis-url'], queue: { prefix: `bench-${schema}` } } : {}),
  }
  const config = loadConfig(overrides)
  const service = await startService({ role: 'serve', config, logger: createLogger({ level: 'silent' }) })
  const child = withoutStreams(variant) ? undefined : startDeliverers(variant, schema)
  try {
    return await fn(service, schema, child)
  } finally {
    await stopChild(child)
    await service.stop()
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
    if (mode === 'queue') {
      const redis = new Redis(values['redis-url'])
      const keys = await redis.keys(`bench-${schema}*`)
      if (keys.length) await redis.del(...keys)
      redis.disconnect()
    }
  }
}

/** Closed-loop ingest: `concurrency` clients POSTing batches back to back for `ms`, or at a fixed rate. */
async function ingest(address: string, ms: number, options: { ratePerSecond?: number; tag: string }): Promise<number> {
  let sent = 0
  let counter = 0
  const deadline = Date.now() + ms
  const started = Date.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        if (options.ratePerSecond) {
          const due = started + (sent / options.ratePerSecond) * 1000
          if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
        }
        const body = JSON.stringify(Array.from({ length: batchEvents }, () => ({ ...sampleEvent(counter++, options.tag), tenant_id: `t${counter % 20}` })))
        let response: Response
        try {
          response = await fetch(`${address}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        } catch (error) {
          // A kept-alive socket the server closed as it was reused (ECONNRESET): not counted as
          // sent; the batch may have been stored, which only adds to what the streams deliver.
          log(`ingest request failed (${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}); continuing`)
          continue
        }
        await response.arrayBuffer()
        if (response.status >= 300) throw new Error(`ingest answered ${response.status}`)
        sent += batchEvents
      }
    }),
  )
  return sent
}

async function createStreams(service: RunningService, receiver: WebhookReceiver, rsyslog: Rsyslog): Promise<void> {
  const streams = service.store.streams!
  const filter = { tenants: [], actions: [], categories: [] }
  await streams.create({ name: 'webhook', owner_tenant: null, sink: { kind: 'webhook', url: `http://127.0.0.1:${receiver.port}/`, options: { secret: 'bench' } }, filter, format: 'json', batch_size: 500 })
  await streams.create({ name: 'syslog', owner_tenant: null, sink: { kind: 'syslog', url: `tcp://127.0.0.1:${rsyslog.port}`, options: {} }, filter, format: 'json', batch_size: 500 })
}

async function caughtUp(service: RunningService, total: number, timeoutMs = 600_000): Promise<Record<string, number>> {
  const done: Record<string, number> = {}
  const end = Date.now() + timeoutMs
  while (Object.keys(done).length < 2 && Date.now() < end) {
    for (const stream of await service.store.streams!.list()) if (stream.delivered >= total && !(stream.name in done)) done[stream.name] = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (Object.keys(done).length < 2) throw new Error('streams did not catch up')
  return done
}

async function checkpoint(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query('CHECKPOINT')
  } finally {
    await client.end()
  }
}

async function storedCount(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return Number((await client.query(`SELECT count(*) AS n FROM "${schema}".audit_logs`)).rows[0].n)
  } finally {
    await client.end()
  }
}

const replicaCpu = (seconds: number, events: number) => (feedReplica ? { replicaCpuUsPerEvent: (seconds * 1e6) / events } : {})

async function round(mode: string, variant: Variant, tag: string): Promise<Outcome> {
  const streams = !withoutStreams(variant)
  const receiver = await startReceiver()
  const rsyslog = await startRsyslog()
  try {
    return await withService(mode, variant, async (service, schema, child) => {
      if (streams) {
        await createStreams(service, receiver, rsyslog)
        await leasesHeld(service)
      }
      // Every round starts right after a checkpoint: one that fell inside a round would make its
      // inserts write full-page images and charge that to whichever variant ran then.
      await checkpoint()
      // The child's start-up (module loading, connecting) is not delivery.
      const neighbour = variant === 'none-busy' && layout ? startNeighbour(layout.deliveryPrefix) : null
      const meter = new CpuMeter(() => (child?.pid === undefined ? [] : [child.pid]), () => (feedReplica ? [feedReplica.replicaRoot] : []))
      meter.start()
      const started = Date.now()
      const cpu = process.cpuUsage()
      const sent = await ingest(`http://${service.address!.replace(/^http:\/\//, '')}`, seconds * 1000, { tag })
      const ingestEnd = Date.now()
      const ingestPerSecond = sent / ((ingestEnd - started) / 1000)
      // Queue mode: wait until the worker stored everything, so delivery counts a known total.
      while ((await storedCount(schema)) < sent) await new Promise((resolve) => setTimeout(resolve, 50))
      const storedPerSecond = sent / ((Date.now() - started) / 1000)
      if (neighbour) await stopNeighbour(neighbour)
      const used = process.cpuUsage(cpu)
      const ingestCpuUsPerEvent = (used.user + used.system) / sent
      if (!streams) {
        const split = meter.stop()
        return { ingestPerSecond, storedPerSecond, ingested: sent, ingestCpuUsPerEvent, postgresCpuUsPerEvent: (split.seconds.postgres * 1e6) / sent, ...replicaCpu(split.apartSeconds, sent) }
      }
      const done = await caughtUp(service, sent)
      const measured = meter.stop()
      const split = measured.seconds
      const postgresCpuUsPerEvent = (split.postgres * 1e6) / sent
      // The deliverers' process (and anything it started) on the machine's clock ticks.
      const childCpu = child ? split.workers * 1e6 : null
      const acks = await receiver.report()
      // The standby counts the scans it answered; it has replayed every link row by now (caught up).
      const feedReads = await feedReadsPerLinkRow(feedReplica?.replicaUrl ?? databaseUrl, schema)
      const lags = [...acks.lags].sort((a, b) => a - b)
      const during = acks.lags.filter((_, i) => acks.ackAt[i]! <= ingestEnd).sort((a, b) => a - b)
      const after = acks.lags.filter((_, i) => acks.ackAt[i]! > ingestEnd).sort((a, b) => a - b)
      const p = (sorted: number[], q: number) => (sorted.length ? percentile(sorted, q) : null)
      return {
        ingestPerSecond,
        storedPerSecond,
        ingested: sent,
        ingestCpuUsPerEvent,
        postgresCpuUsPerEvent,
        ...(childCpu !== null ? { delivererCpuUsPerEvent: childCpu / (2 * sent) } : {}),
        ...(feedReads !== null ? { feedReadsPerLinkRow: feedReads } : {}),
        ...replicaCpu(measured.apartSeconds, sent),
        delivery: {
          webhookPerSecond: sent / ((done['webhook']! - started) / 1000),
          syslogPerSecond: sent / ((done['syslog']! - started) / 1000),
          lagP50Ms: percentile(lags, 50),
          lagP99Ms: percentile(lags, 99),
          duringP50Ms: p(during, 50),
          duringP99Ms: p(during, 99),
          afterP50Ms: p(after, 50),
          afterP99Ms: p(after, 99),
          duringShare: during.length / Math.max(1, lags.length),
          catchUpSeconds: (Math.max(done['webhook']!, done['syslog']!) - ingestEnd) / 1000,
        },
      }
    })
  } finally {
    await receiver.close()
    await rsyslog.dispose()
  }
}

async function outage(mode: string, variant: Deliverers): Promise<{ backlog: number; catchUpPerSecond: number; catchUpSeconds: number; firstAckSeconds: number }> {
  const receiver = await startReceiver()
  const rsyslog = await startRsyslog()
  try {
    return await withService(mode, variant, async (service, schema) => {
      await createStreams(service, receiver, rsyslog)
      await leasesHeld(service)
      const address = `http://${service.address!.replace(/^http:\/\//, '')}`
      const outageMs = Number(values['outage-seconds']) * 1000
      await receiver.setUp(false)
      const sentDuring = await ingest(address, outageMs, { ratePerSecond: Number(values['outage-rate']), tag: 'outage' })
      while ((await storedCount(schema)) < sentDuring) await new Promise((resolve) => setTimeout(resolve, 200))
      const before = (await service.store.streams!.get('webhook'))!.delivered
      const backlog = sentDuring - before
      await receiver.setUp(true)
      const back = Date.now()
      while ((await service.store.streams!.get('webhook'))!.delivered < sentDuring) await new Promise((resolve) => setTimeout(resolve, 100))
      // The stream notices the receiver is back at its next retry (backoff up to retryMaxDelayMs);
      // the drain rate counts from the first acknowledged batch.
      const firstAckAt = (await receiver.report()).firstAckAt!
      const firstAckSeconds = (firstAckAt - back) / 1000
      const catchUpSeconds = (Date.now() - firstAckAt) / 1000
      return { backlog, catchUpSeconds, firstAckSeconds, catchUpPerSecond: backlog / catchUpSeconds }
    })
  } finally {
    await receiver.close()
    await rsyslog.dispose()
  }
}

const results: Record<string, Record<Variant, Outcome[]>> = {}
const all: Variant[] = ['none', ...(values['busy-neighbour'] ? (['none-busy'] as const) : []), ...variants]
for (const mode of values.modes.split(',')) {
  results[mode] = Object.fromEntries(all.map((v) => [v, []])) as unknown as Record<Variant, Outcome[]>
  // Warm-up rounds (`--warmup N`) run every variant and are not counted: the first rounds of a
  // process run colder (JIT, the database's caches) and would be charged to whichever variant ran first.
  for (let w = 0; w < Number(values.warmup); w++) {
    for (const variant of all) {
      log(`${mode} warm-up ${w + 1}/${values.warmup}, streams ${variant}`)
      await round(mode, variant, `${mode}w${w}${variant}`)
    }
  }
  for (let r = 0; r < runs; r++) {
    // Rotated, so each variant goes first in turn and drift in the machine's load spreads over all.
    const order = all.map((_, i) => all[(i + r) % all.length]!)
    for (const variant of order) {
      log(`${mode} round ${r + 1}/${runs}, streams ${variant}`)
      const outcome = await round(mode, variant, `${mode}${r}${variant}`)
      results[mode]![variant].push(outcome)
      const d = outcome.delivery
      log(`  ingest ${outcome.ingestPerSecond.toFixed(0)} ev/s, stored ${outcome.storedPerSecond.toFixed(0)} ev/s, ingest process ${outcome.ingestCpuUsPerEvent.toFixed(0)} µs CPU/event, PostgreSQL ${outcome.postgresCpuUsPerEvent.toFixed(0)} µs CPU/event${outcome.replicaCpuUsPerEvent !== undefined ? `, standby ${outcome.replicaCpuUsPerEvent.toFixed(0)} µs CPU/event` : ''}${outcome.delivererCpuUsPerEvent !== undefined ? `, deliverer process ${outcome.delivererCpuUsPerEvent.toFixed(1)} µs CPU/delivered event` : ''}${outcome.feedReadsPerLinkRow !== undefined ? `, feed reads ${outcome.feedReadsPerLinkRow.toFixed(2)} per link row` : ''}${d ? `, webhook ${d.webhookPerSecond.toFixed(0)} ev/s, syslog ${d.syslogPerSecond.toFixed(0)} ev/s, lag p50 ${d.lagP50Ms} ms p99 ${d.lagP99Ms} ms, during ${d.duringP50Ms}/${d.duringP99Ms} ms (${(d.duringShare * 100).toFixed(0)} %), after ${d.afterP50Ms}/${d.afterP99Ms} ms, catch-up ${d.catchUpSeconds.toFixed(1)} s` : ''}`)
    }
  }
}

const fmt = (values: (number | null)[], digits = 0) => {
  const present = values.filter((v): v is number => v !== null)
  return present.length ? median(present).toFixed(digits) : '–'
}
/** The busy-neighbour baseline's rates, and the streams' change against it (median of per-round ratios). */
function againstBusy(busy: Outcome[], withStreams: Outcome[]): string[] {
  const change = (pick: (o: Outcome) => number) => `${((median(withStreams.map((w, i) => pick(w) / pick(busy[i]!))) - 1) * 100).toFixed(1)} %`
  return [
    `${median(busy.map((o) => o.ingestPerSecond)).toFixed(0)} / ${median(busy.map((o) => o.storedPerSecond)).toFixed(0)}`,
    `${change((o) => o.ingestPerSecond)} / ${change((o) => o.storedPerSecond)}`,
  ]
}
const rows: string[][] = []
for (const [mode, byVariant] of runs > 0 ? Object.entries(results) : []) {
  const without = byVariant.none
  for (const variant of variants) {
    const withStreams = byVariant[variant]
    const ratios = withStreams.map((w, i) => w.ingestPerSecond / without[i]!.ingestPerSecond)
    const storedRatios = withStreams.map((w, i) => w.storedPerSecond / without[i]!.storedPerSecond)
    const d = withStreams.map((w) => w.delivery!)
    rows.push([
      mode,
      variant,
      median(without.map((o) => o.ingestPerSecond)).toFixed(0),
      median(withStreams.map((o) => o.ingestPerSecond)).toFixed(0),
      `${((median(ratios) - 1) * 100).toFixed(1)} %`,
      `${median(without.map((o) => o.storedPerSecond)).toFixed(0)} → ${median(withStreams.map((o) => o.storedPerSecond)).toFixed(0)} (${((median(storedRatios) - 1) * 100).toFixed(1)} %)`,
      median(d.map((x) => x.webhookPerSecond)).toFixed(0),
      median(d.map((x) => x.syslogPerSecond)).toFixed(0),
      `${fmt(d.map((x) => x.lagP50Ms))} / ${fmt(d.map((x) => x.lagP99Ms))}`,
      `${fmt(d.map((x) => x.duringP50Ms))} / ${fmt(d.map((x) => x.duringP99Ms))} (${fmt(d.map((x) => x.duringShare * 100))} %)`,
      `${fmt(d.map((x) => x.afterP50Ms))} / ${fmt(d.map((x) => x.afterP99Ms))}`,
      fmt(d.map((x) => x.catchUpSeconds), 1),
      `${median(without.map((o) => o.ingestCpuUsPerEvent)).toFixed(0)} → ${median(withStreams.map((o) => o.ingestCpuUsPerEvent)).toFixed(0)}`,
      `${median(without.map((o) => o.postgresCpuUsPerEvent)).toFixed(0)} → ${median(withStreams.map((o) => o.postgresCpuUsPerEvent)).toFixed(0)}`,
      fmt(withStreams.map((o) => o.delivererCpuUsPerEvent ?? null), 1),
      fmt(withStreams.map((o) => o.feedReadsPerLinkRow ?? null), 2),
      ...(feedReplica ? [`${fmt(without.map((o) => o.replicaCpuUsPerEvent ?? null))} → ${fmt(withStreams.map((o) => o.replicaCpuUsPerEvent ?? null))}`] : []),
      ...(values['busy-neighbour'] ? againstBusy(byVariant['none-busy'], withStreams) : []),
    ])
  }
}
if (rows.length > 0) printTable(['mode', 'deliverers', 'ingest ev/s, no streams', 'ingest ev/s, 2 streams', 'change (median of per-round ratios)', 'stored ev/s, no streams → 2 streams (change)', 'webhook delivered ev/s', 'syslog delivered ev/s', 'intake→ack p50 / p99 ms', 'acked during ingest p50 / p99 ms (share)', 'acked after p50 / p99 ms', 'ingest end → caught up s', 'ingest process CPU µs/event, no streams → streams', 'PostgreSQL CPU µs/ingested event, no streams → streams', 'deliverer process CPU µs/delivered event', 'feed reads per stored link row', ...(feedReplica ? ['standby CPU µs/ingested event, no streams → streams'] : []), ...(values['busy-neighbour'] ? ['no streams, delivery CPUs busy: ingest / stored ev/s', 'change against that: ingest / stored'] : [])], rows)

if (Number(values['outage-seconds']) > 0) {
  const mode = values.modes.split(',')[0]!
  const variant = (values['outage-deliverers'] ?? variants[0]!) as Deliverers
  log(`outage: ${mode} mode, deliverers ${variant}, webhook receiver down ${values['outage-seconds']} s at ${values['outage-rate']} ev/s`)
  const o = await outage(mode, variant)
  printTable(['mode', 'deliverers', 'outage s', 'ingest rate ev/s', 'backlog events', 'receiver back → first ack s (next retry)', 'drain s', 'drain ev/s'], [[mode, variant, values['outage-seconds']!, values['outage-rate']!, String(o.backlog), o.firstAckSeconds.toFixed(1), o.catchUpSeconds.toFixed(1), o.catchUpPerSecond.toFixed(0)]])
}
process.stdout.write(JSON.stringify({ args: values, results }) + '\n')
await feedReplica?.close()
process.exit(0)
