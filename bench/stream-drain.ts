/**
 * What delivering one event costs the delivering process, without ingest: a PostgreSQL store is
 * filled with `--events` events (20 tenants), then `--streams` all-tenants streams (alternately a
 * signed webhook to a local receiver and syslog to a real rsyslogd over TCP) drain it from the
 * start, run by the service's own stream runner. Per run: Node CPU (process.cpuUsage: feed row
 * parsing, formatting, HMAC, HTTP, syslog framing) and the wall time spent in feed reads, each per
 * delivered event, and the drain rate. `--shared off,on` compares the plain feed with the shared
 * feed (one read per page for every stream at the same position, one serialisation per event and
 * format) in the same run, alternating rounds.
 *
 *   npm run bench:stream-drain -- --events 50000 --streams 2 --runs 3
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { loadConfig } from '../src/config.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { BUILT_IN_FORMATTERS } from '../src/stream/format.js'
import type { FeedPage, FeedScope, FeedSource, SeenSeqs } from '../src/stream/feed-source.js'
import { SharedFeed } from '../src/stream/shared-feed.js'
import { sinkFactory } from '../src/stream/sinks/create-sink.js'
import { startStreamRunner } from '../src/stream/start-runner.js'
import { StoreFeed } from '../src/stream/store-feed.js'
import { createLogger } from '../src/util/logger.js'
import { Rsyslog } from '../test/support/rsyslog.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'
import { storedEvent } from '../test/support/events.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '50000' },
    streams: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    shared: { type: 'string', default: 'off,on' },
    'batch-size': { type: 'string', default: '500' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const total = Number(values.events)
const streamCount = Number(values.streams)
const log = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`)

/** Feed reads, timed: wall time spent waiting for pages (the database's share, mostly). */
class TimedFeed implements FeedSource {
  readMs = 0
  reads = 0
  constructor(private readonly inner: FeedSource) {}
  async read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    const started = performance.now()
    try {
      return await this.inner.read(after, limit, scope)
    } finally {
      this.readMs += performance.now() - started
      this.reads++
    }
  }
  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.inner.waitForNew(maxWaitMs, signal)
  }
  backlog(after: string | null, scope: FeedScope, seen: SeenSeqs): Promise<number | null> {
    return this.inner.backlog?.(after, scope, seen) ?? Promise.resolve(null)
  }
}

const schema = `bench_drain_${process.pid}`
const store = await createPostgresStore({ connectionString: values['database-url'], schema })
await store.migrate()
log(`filling ${total} events`)
for (let i = 0; i < total; i += 500) {
  await store.insertBatch(Array.from({ length: Math.min(500, total - i) }, (_, j) => storedEvent({ ...sampleEvent(i + j), tenant_id: `t${(i + j) % 20}` } as never)))
}
const receiver = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => res.writeHead(204).end())
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const port = (receiver.address() as AddressInfo).port
const rsyslog = new Rsyslog()
await rsyslog.start()
const settings = loadConfig({ streams: { pollMs: 50, scanEveryMs: 100 } }).streams

interface Run {
  shared: boolean
  cpuUsPerEvent: number
  readUsPerEvent: number
  reads: number
  eventsPerSecond: number
}
const runs: Run[] = []
const modes = values.shared.split(',').map((v) => v === 'on')
let counter = 0
for (let r = 0; r < Number(values.runs); r++) {
  for (const shared of r % 2 === 0 ? modes : [...modes].reverse()) {
    const timed = new TimedFeed(new StoreFeed(store.feed!, store.integrity))
    const feed = shared ? new SharedFeed(timed) : timed
    const names: string[] = []
    for (let s = 0; s < streamCount; s++) {
      const name = `drain-${counter++}`
      names.push(name)
      const options: Record<string, string> = s % 2 === 0 ? { secret: 'bench' } : {}
      const sink = s % 2 === 0 ? { kind: 'webhook' as const, url: `http://127.0.0.1:${port}/`, options } : { kind: 'syslog' as const, url: `tcp://127.0.0.1:${rsyslog.port}`, options }
      await store.streams!.create({ name, owner_tenant: null, sink, filter: { tenants: [], actions: [], categories: [] }, format: 'json', batch_size: Number(values['batch-size']) })
    }
    const cpu = process.cpuUsage()
    const started = performance.now()
    const runner = startStreamRunner({ streams: store.streams!, feed, createSink: sinkFactory(BUILT_IN_FORMATTERS), observer: { delivered() {}, failed() {}, lag() {}, stopped() {} }, logger: createLogger({ level: 'silent' }), owner: `bench-${counter}`, settings })
    for (;;) {
      const records = await Promise.all(names.map((name) => store.streams!.get(name)))
      if (records.every((record) => record!.delivered >= total)) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    await runner.stop()
    for (const name of names) await store.streams!.delete(name)
    const delivered = total * streamCount
    const run = { shared, cpuUsPerEvent: (used.user + used.system) / delivered, readUsPerEvent: (timed.readMs * 1000) / delivered, reads: timed.reads, eventsPerSecond: delivered / seconds }
    runs.push(run)
    log(`shared ${shared ? 'on ' : 'off'}: ${run.cpuUsPerEvent.toFixed(1)} µs CPU and ${run.readUsPerEvent.toFixed(1)} µs of feed reads per delivered event, ${run.reads} reads, ${run.eventsPerSecond.toFixed(0)} delivered ev/s`)
  }
}
printTable(
  ['shared feed', 'Node CPU µs / delivered event', 'feed read µs / delivered event', 'feed reads', 'delivered ev/s (all streams)'],
  modes.map((shared) => {
    const mine = runs.filter((run) => run.shared === shared)
    return [shared ? 'on' : 'off', median(mine.map((x) => x.cpuUsPerEvent)).toFixed(1), median(mine.map((x) => x.readUsPerEvent)).toFixed(1), median(mine.map((x) => x.reads)).toFixed(0), median(mine.map((x) => x.eventsPerSecond)).toFixed(0)]
  }),
)
await store.close()
receiver.close()
await rsyslog.dispose()
const client = new pg.Client({ connectionString: values['database-url'] })
await client.connect()
await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
await client.end()
process.exit(0)
