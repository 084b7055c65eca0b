/**
 * Cost and speed of the Merkle tree (docs/integrity.md, "Merkle tree"):
 *  1. ingest with the tree on vs off, same run, alternating which goes first: direct mode (the SDK's
 *     group commit, 128 concurrent `log()` callers) and queue mode (the SDK producing to a Redis
 *     stream, the worker runtime inserting, in one process; its rate is what the worker stores while
 *     the queue is backlogged, from 2 s in to the end of the load), each with the checkpoint scheduler
 *     signing every `--checkpoint-ms` while events flow, so the tree's work at checkpoint time
 *     competes with ingest as it does in `serve`/`worker`;
 *  1b. (`--parts numbering`) the same with producer numbering (sequences and head records) on vs
 *     off, the tree on in both: the other ingest cost the completeness proof adds;
 *  2. on a chain of `--events` events (default 1,000,000) in one tenant: growing the tree over it
 *     at the first checkpoint, the first proof after it (on PostgreSQL it indexes event id -> seq
 *     for the whole tree, see merkle.ts), inclusion-proof latency (`GET /v1/events/:id/proof`'s work) for
 *     random events, export with proof of 10,000 events matching a filter, and verify-bundle speed.
 *
 *   npm run bench:proofs -- --stores postgres,embedded --events 1000000 --seconds 5 --runs 3
 *
 * `--keep` keeps the chain part's store (PostgreSQL schema `bench_proofs_chain_<events>`, or an
 * embedded data directory of that name under the system temp directory) and a later `--keep` run
 * reuses it instead of loading the chain again: load and tree columns then say "reused". Its
 * checkpoints' signing key is kept beside it (`<name>.key.pem` in the temp directory), so the
 * reused chain's bundles verify. Drop both with `--drop-kept`. The export-with-proof line is followed by its phases (see bundleLines' `phases`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Redis } from 'ioredis'
import { loadConfig } from '../src/config.js'
import { validateEvent } from '../src/event/validate.js'
import type { AuditEvent } from '../src/event/types.js'
import { generateSigningKeyPem, parseSigningKey } from '../src/integrity/checkpoint.js'
import { createCheckpoints } from '../src/integrity/make-checkpoints.js'
import { bundleLines, eventProof, type BundlePhases } from '../src/integrity/proofs.js'
import { startMaintenance } from '../src/retention/scheduler.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import type { Store } from '../src/store/store.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { createLogger } from '../src/util/logger.js'
import { startWorkerRuntime } from '../src/worker/runtime.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'postgres,embedded' },
    events: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    'checkpoint-ms': { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'direct,queue' },
    parts: { type: 'string', default: 'ingest,numbering,chain' },
    keep: { type: 'boolean', default: false },
    'drop-kept': { type: 'boolean', default: false },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    'redis-url': { type: 'string', default: process.env.AUDITQ_REDIS_URL ?? 'redis://127.0.0.1:6379/9' },
  },
})
const seconds = Number(values.seconds)
const runs = Number(values.runs)
const chainEvents = Number(values.events)
const checkpointMs = Number(values['checkpoint-ms'])
// The standalone verifier stays where it ships (tools/, beside dist-bench/), not compiled into the bench.
const { verifyBundle } = (await import(new URL('../../tools/verify-bundle.mjs', import.meta.url).href)) as typeof import('../tools/verify-bundle.mjs')
const logger = createLogger({ level: 'warn', name: 'bench-proofs' })
const keptName = `bench_proofs_chain_${chainEvents}`
const keptKeyFile = join(tmpdir(), `${keptName}.key.pem`)
const keep = values.keep || values['drop-kept']
// A kept chain keeps its signing key too: its checkpoints must verify in later runs.
const keyPem = keep && existsSync(keptKeyFile) ? readFileSync(keptKeyFile, 'utf8') : generateSigningKeyPem().privateKeyPem
if (keep && !existsSync(keptKeyFile)) writeFileSync(keptKeyFile, keyPem, { mode: 0o600 })
const key = parseSigningKey(keyPem)

/** A store of its own; `kept`: the named one a `--keep` run leaves behind (and a later one reuses). */
async function openFresh(kind: string, kept?: string): Promise<{ store: Store; dispose: () => Promise<void>; schema?: string }> {
  const drop = kept === undefined || values['drop-kept']
  if (kind === 'embedded') {
    const dataDir = kept ? join(tmpdir(), kept) : mkdtempSync(join(tmpdir(), 'auditq-bench-proofs-'))
    if (kept) mkdirSync(dataDir, { recursive: true })
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    return { store, dispose: async () => { await store.close(); if (drop) rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = kept ?? `bench_proofs_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const store = await createPostgresStore({ connectionString: values['database-url'], schema })
  await store.migrate()
  return {
    store,
    schema,
    dispose: async () => {
      await store.close()
      if (!drop) return
      const client = new pg.Client({ connectionString: values['database-url'] })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}

let counter = 0

/** Events/s stored over `seconds` by 128 concurrent `log()` callers, with checkpoints signed meanwhile. */
async function ingestRate(kind: string, mode: string, { tree, numbering }: { tree: boolean; numbering: boolean }): Promise<number> {
  const { store, dispose } = await openFresh(kind)
  const prefix = `bench-proofs-${process.pid}-${counter++}`
  const config = loadConfig({ integrity: { checkpointIntervalMs: checkpointMs, merkleTree: tree }, ...(mode === 'queue' ? { redisUrl: values['redis-url'], queue: { prefix } } : {}) })
  const maintenance = startMaintenance({ store, config, signingKey: key, logger })
  const redis = mode === 'queue' ? new Redis(values['redis-url']) : undefined
  const runtime = redis ? await startWorkerRuntime({ config, store, redis, logger }) : undefined
  const audit = await createAuditLogger({
    store,
    logger,
    ...(numbering ? { producer: true } : {}),
    ...(mode === 'queue' ? { redisUrl: values['redis-url'], queue: { prefix } } : {}),
  })
  try {
    const stored = async () => (await store.integrity!.snapshot((s) => s.heads())).reduce((n, head) => n + head.seq, 0)
    const started = performance.now()
    const deadline = started + seconds * 1000
    // Queue mode: what the worker stores while the queue is backlogged, from 2 s in to the end of
    // the offered load. The producers outrun the worker, so the window sees only the worker's
    // pace; a rate taken to the drained queue also counted the drain and the spill's replay,
    // whose timing spread runs by 20-45 %.
    const backlogged = runtime
      ? (async () => {
          await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, (seconds * 1000) / 4)))
          const from = { at: performance.now(), total: await stored() }
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())))
          const to = { at: performance.now(), total: await stored() }
          return (to.total - from.total) / ((to.at - from.at) / 1000)
        })()
      : undefined
    await Promise.all(
      Array.from({ length: 128 }, async () => {
        while (performance.now() < deadline) {
          const i = counter++
          await audit.log({ ...sampleEvent(i, 'p'), tenant_id: `tenant-${i % 8}` })
        }
      }),
    )
    const backloggedRate = await backlogged
    await audit.close()
    // Drained either way (unmeasured in queue mode), so nothing spilled is left for the next run.
    let total = await stored()
    if (runtime) {
      for (let last = -1; total !== last; ) {
        last = total
        await new Promise((resolve) => setTimeout(resolve, 300))
        total = await stored()
      }
    }
    return backloggedRate ?? total / ((performance.now() - started) / 1000)
  } finally {
    await maintenance.stop()
    if (runtime) await runtime.stop(5_000)
    if (redis) {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
    await dispose()
  }
}

/**
 * One feature on against off: `tree` (the Merkle tree grown at every checkpoint, numbering off) or
 * `numbering` (producer sequences and head records, the tree on in both settings).
 */
async function ingestPart(kind: string, feature: 'tree' | 'numbering'): Promise<void> {
  const rows: string[][] = []
  for (const mode of values.modes.split(',')) {
    const on: number[] = []
    const off: number[] = []
    const settings = (enabled: boolean) => (feature === 'tree' ? { tree: enabled, numbering: false } : { tree: true, numbering: enabled })
    // One run of each setting first, not counted: the first runs of a mode were 30-40 % slower
    // (caches, JIT, Redis and PostgreSQL warming up), which widened the spread more than the effect.
    for (const enabled of [false, true]) await ingestRate(kind, mode, settings(enabled))
    for (let run = 0; run < runs; run++) {
      // Alternate which setting goes first, so a machine that slows down over the run favours neither.
      for (const enabled of run % 2 === 0 ? [false, true] : [true, false]) (enabled ? on : off).push(await ingestRate(kind, mode, settings(enabled)))
    }
    const cost = (1 - median(on) / median(off)) * 100
    // Each run's on/off pair ran back to back: the median of their ratios discounts a machine whose
    // speed drifts over the run (warming caches, other work), which moves both medians apart.
    const paired = (1 - median(on.map((rate, i) => rate / off[i]!))) * 100
    rows.push([kind, mode, Math.round(median(off)).toLocaleString('en'), Math.round(median(on)).toLocaleString('en'), `${cost.toFixed(1)} %`, `${paired.toFixed(1)} %`, off.map((r) => Math.round(r)).join(' / '), on.map((r) => Math.round(r)).join(' / ')])
  }
  printTable(['store', 'mode', `${feature} off, events/s`, `${feature} on, events/s`, 'cost (medians)', 'cost (paired runs)', 'off runs', 'on runs'], rows)
}

function chainEvent(i: number): AuditEvent {
  // Every 100th event has the actor the export filters on: 10,000 of a 1,000,000 chain.
  const result = validateEvent({ ...sampleEvent(i, 'c'), actor_id: i % 100 === 0 ? 'auditor-sample' : `user-${i % 1000}`, tenant_id: 'acme' }, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

async function chainPart(kind: string): Promise<void> {
  const { store, dispose, schema } = await openFresh(kind, keep ? keptName : undefined)
  try {
    const headSeq = async () => (await store.integrity!.snapshot((s) => s.heads('acme')))[0]?.seq ?? 0
    // A kept chain is reused only when complete (the load, both checkpoints and the 10,000 more).
    const reused = (await headSeq()) === chainEvents + 10_000 && (await store.integrity!.merkle!.size('acme')) === chainEvents + 10_000
    let loadSeconds: number | undefined
    let treeSeconds: number | undefined
    let incrementalMs: number | undefined
    const sampled: AuditEvent[] = []
    if (reused) {
      for await (const event of store.stream({ tenant_id: 'acme', actor_id: 'auditor-sample' })) if (Math.random() < 0.02) sampled.push(event)
    } else {
      if ((await headSeq()) !== 0) throw new Error(`the kept chain in bench_proofs_chain_${chainEvents} is incomplete: drop it with --drop-kept`)
      let t = performance.now()
      for (let i = 0; i < chainEvents; i += 1000) {
        const batch = Array.from({ length: Math.min(1000, chainEvents - i) }, (_, j) => chainEvent(i + j))
        if (i % 997 === 0 || sampled.length < 200) sampled.push(batch[Math.floor(Math.random() * batch.length)]!)
        await store.insertBatch(batch)
      }
      loadSeconds = (performance.now() - t) / 1000
      t = performance.now()
      await createCheckpoints(store.integrity!, key)
      treeSeconds = (performance.now() - t) / 1000
      // A later checkpoint after 10,000 more events: the steady-state cost of growing the tree.
      for (let i = 0; i < 10_000; i += 1000) await store.insertBatch(Array.from({ length: 1000 }, (_, j) => chainEvent(chainEvents + i + j)))
      t = performance.now()
      await createCheckpoints(store.integrity!, key)
      incrementalMs = performance.now() - t
      // As autovacuum would soon after a load this size: the event stream's plan depends on it.
      if (schema) {
        const client = new pg.Client({ connectionString: values['database-url'] })
        await client.connect()
        await client.query(`ANALYZE "${schema}".audit_logs, "${schema}".audit_merkle_positions, "${schema}".audit_merkle_tiles, "${schema}".audit_chain_links`)
        await client.end()
      }
    }

    // The first proof pays for indexing the positions the tree covers (PostgreSQL; a reused chain has them).
    let firstProof = performance.now()
    await eventProof(store.integrity, (await store.getById(sampled[0]!.id, { tenant_id: 'acme' }))!)
    firstProof = (performance.now() - firstProof) / 1000
    const latencies: number[] = []
    for (const event of sampled.slice(-200)) {
      const started = performance.now()
      const read = await store.getById(event.id, { tenant_id: 'acme' })
      await eventProof(store.integrity, read!)
      latencies.push(performance.now() - started)
    }
    latencies.sort((a, b) => a - b)

    const exportTimes: number[] = []
    const phaseRuns: BundlePhases[] = []
    let bundle = ''
    for (let run = 0; run < 3; run++) {
      const started = performance.now()
      const phases: BundlePhases = {}
      let text = ''
      for await (const line of bundleLines(store.integrity, store.stream({ tenant_id: 'acme', actor_id: 'auditor-sample' }), { filter: {}, phases })) text += line
      exportTimes.push((performance.now() - started) / 1000)
      phaseRuns.push(phases)
      bundle = text
    }
    const verifyTimes: number[] = []
    let verified = 0
    for (let run = 0; run < 3; run++) {
      const started = performance.now()
      const result = verifyBundle(bundle, [key.publicKey])
      if (!result.ok) throw new Error(`bench bundle failed: ${JSON.stringify(result.failure)}`)
      verified = result.events
      verifyTimes.push((performance.now() - started) / 1000)
    }
    printTable(
      ['store', 'chain', 'load s', 'first tree s', '+10k tree ms', 'first proof s', 'proof p50 ms', 'proof p99 ms', 'export+proof s (10k)', 'bundle MB', 'verify s', 'verify events/s'],
      [[
        kind, chainEvents.toLocaleString('en'), loadSeconds?.toFixed(0) ?? 'reused', treeSeconds?.toFixed(1) ?? 'reused', incrementalMs?.toFixed(0) ?? 'reused', firstProof.toFixed(2),
        latencies[Math.floor(latencies.length / 2)]!.toFixed(2), latencies[Math.floor(latencies.length * 0.99)]!.toFixed(2),
        `${median(exportTimes).toFixed(2)} (${verified})`, (Buffer.byteLength(bundle) / 1e6).toFixed(1), median(verifyTimes).toFixed(2), Math.round(verified / median(verifyTimes)).toLocaleString('en'),
      ]],
    )
    // Where the export's time goes: each phase's median over the runs, in ms (they add up to the total but for the consumer's own time).
    const names = [...new Set(phaseRuns.flatMap((phases) => Object.keys(phases)))]
    printTable(['export+proof phase', ...names], [['median ms', ...names.map((name) => median(phaseRuns.map((phases) => phases[name as keyof BundlePhases] ?? 0)).toFixed(0))]])
  } finally {
    await dispose()
    if (values['drop-kept']) rmSync(keptKeyFile, { force: true })
  }
}

for (const kind of values.stores.split(',')) {
  if (values.parts.includes('ingest')) await ingestPart(kind, 'tree')
  if (values.parts.includes('numbering')) await ingestPart(kind, 'numbering')
  if (values.parts.includes('chain')) await chainPart(kind)
}
