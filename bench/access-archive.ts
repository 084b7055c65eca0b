/**
 * What recording access costs per read, and how fast the archive sink writes, against same-run baselines:
 *   - GET /v1/events?limit=1 through fastify (inject, embedded store): the access hook with a recorder
 *     that writes nothing (baseline), with the default aggregation (identical reads folded), and with
 *     aggregation off (every read a chained insert);
 *   - the archive sink: events/s delivering batches of 500 (gzip + fsync + manifest replace per batch),
 *     and the offline verify of what it wrote.
 *
 *   npm run bench:access [-- --runs 5 --reads 2000 --events 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AccessRecorder } from '../src/access/recorder.js'
import { loadConfig } from '../src/config.js'
import { noAddedFields, type AuditEvent } from '../src/event/types.js'
import { generateSigningKeyPem, parseSigningKey } from '../src/integrity/checkpoint.js'
import { buildServer } from '../src/http/server.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { openStore } from '../src/store/open-store.js'
import type { FeedEvent } from '../src/stream/sink.js'
import { ArchiveSink } from '../src/stream/sinks/archive/archive-sink.js'
import { verifyArchive } from '../src/stream/sinks/archive/verify-archive.js'
import { createLogger } from '../src/util/logger.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, reads: { type: 'string', default: '2000' }, events: { type: 'string', default: '20000' } } })
const RUNS = Number(values.runs)
const READS = Number(values.reads)
const EVENTS = Number(values.events)
const logger = createLogger({ level: 'silent' })

async function readCost(mode: 'noop' | 'aggregated' | 'every'): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-access-'))
  const store = await openStore({ dataDir })
  try {
    const config = loadConfig({ logLevel: 'silent', security: { rateLimitPerSecond: 0 } })
    const audit = await createAuditLogger({ store, logger, redaction: { keys: [], ipTruncation: 'none' } })
    await audit.logBulk(Array.from({ length: 100 }, (_, i) => ({ action: `doc.v${i}` })))
    const recorder = new AccessRecorder({
      write: mode === 'noop' ? async () => undefined : (events) => store.insertBatch(events),
      windowMs: mode === 'every' ? 0 : 60_000,
      systemTenant: 'auditq',
      logger,
    })
    const app = await buildServer({ config, audit, logger, accessRecorder: recorder })
    for (let i = 0; i < 200; i++) await app.inject({ url: '/v1/events?limit=1' })
    const started = process.hrtime.bigint()
    for (let i = 0; i < READS; i++) await app.inject({ url: '/v1/events?limit=1' })
    const us = Number(process.hrtime.bigint() - started) / 1000 / READS
    await app.close()
    await recorder.close()
    await audit.close()
    return us
  } finally {
    await store.close().catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function feed(n: number): FeedEvent[] {
  const at = new Date().toISOString()
  return Array.from({ length: n }, (_, i) => {
    const event: AuditEvent = { id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, tenant_id: i % 2 ? 'acme' : 'globex', action: 'doc.view', category: 'info', occurred_at: at, received_at: at, actor_id: `u${i % 50}`, actor_type: 'user', resource_type: 'doc', resource_id: String(i), success: true, error_message: null, description: null, ip_address: '10.0.0.1', user_agent: 'bench', session_id: null, request_id: null, client_id: null, metadata: { i }, ...noAddedFields() }
    return { event, seq: Math.floor(i / 2) + 1, hash: i.toString(16).padStart(64, '0'), cursor: String(i) }
  })
}

async function archiveRate(): Promise<{ write: number; verify: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'auditq-bench-archive-'))
  try {
    const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
    const sink = new ArchiveSink({ dir, signingKey: key, rotateBytes: 8 * 1024 * 1024 })
    const events = feed(EVENTS)
    const signal = new AbortController().signal
    let started = process.hrtime.bigint()
    for (let i = 0; i < events.length; i += 500) await sink.deliver(events.slice(i, i + 500), { signal })
    const write = EVENTS / (Number(process.hrtime.bigint() - started) / 1e9)
    started = process.hrtime.bigint()
    await verifyArchive(dir, key.publicKey) // the hashes here are not chained: verify reports it, the cost is the same
    const verify = EVENTS / (Number(process.hrtime.bigint() - started) / 1e9)
    return { write, verify }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const reads: Record<string, number[]> = { noop: [], aggregated: [], every: [] }
const archive: { write: number[]; verify: number[] } = { write: [], verify: [] }
for (let run = 0; run < RUNS; run++) {
  // Alternating within each run, so load on a shared machine hits every variant alike.
  for (const mode of ['noop', 'aggregated', 'every'] as const) reads[mode]!.push(await readCost(mode))
  const rate = await archiveRate()
  archive.write.push(rate.write)
  archive.verify.push(rate.verify)
}
const base = median(reads.noop!)
printTable(['GET /v1/events?limit=1 (embedded, inject)', 'µs/read (median)', 'vs no-op recorder'], (['noop', 'aggregated', 'every'] as const).map((mode) => [mode, median(reads[mode]!).toFixed(0), `${(median(reads[mode]!) / base).toFixed(2)}×`]))
printTable(['archive sink', 'events/s (median)'], [['deliver, batches of 500', median(archive.write).toFixed(0)], ['verify --archive', median(archive.verify).toFixed(0)]])
