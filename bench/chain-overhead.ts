/**
 * Cost of hash chaining: events/s with chaining on vs off, same run, same store kind, alternating
 * which goes first. Three load shapes, each over `--tenants` tenants (1 = every batch contends for
 * the same head row):
 *  - processes: N worker processes, each an insertBatch loop of `--batch` events on its own
 *               connections: how queue-mode workers (`auditq worker --processes N`) write;
 *  - loops:     N concurrent insertBatch loops in one process, sharing its event loop and pool;
 *  - direct:    the SDK's group commit with 128 concurrent `log()` callers (direct mode, the default).
 *
 *   npm run bench:chain -- --stores postgres,embedded --seconds 5 --runs 5 --workers 4 --tenants 1,20
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { validateEvent } from '../src/event/validate.js'
import type { AuditEvent } from '../src/event/types.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import type { Store } from '../src/store/store.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'postgres,embedded' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    workers: { type: 'string', default: '4' },
    batch: { type: 'string', default: '500' },
    tenants: { type: 'string', default: '1,20' },
    shapes: { type: 'string', default: 'processes,loops,direct' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    // Internal: set when this file runs as one of the processes shape's workers.
    child: { type: 'string' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)
const workers = Number(values.workers)
const batchSize = Number(values.batch)

/** A store by kind and location (a data dir or a schema): the parent creates it, worker processes open it too. */
function openStore(kind: string, location: string, chain: boolean): Promise<Store> {
  return kind === 'embedded'
    ? createEmbeddedStore({ dataDir: location, chain })
    : createPostgresStore({ connectionString: values['database-url'], schema: location, chain, poolMax: 2 })
}

async function openFresh(kind: string, chain: boolean): Promise<{ store: Store; location: string; dispose: () => Promise<void> }> {
  if (kind === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-chain-'))
    const store = await openStore(kind, dataDir, chain)
    await store.migrate()
    return { store, location: dataDir, dispose: async () => { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = `bench_chain_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const store = await createPostgresStore({ connectionString: values['database-url'], schema, chain })
  await store.migrate()
  return {
    store,
    location: schema,
    dispose: async () => {
      await store.close()
      const client = new pg.Client({ connectionString: values['database-url'] })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}

let counter = 0
function event(tenants: number, tag = 'c'): AuditEvent {
  const i = counter++
  const result = validateEvent({ ...sampleEvent(i, tag), tenant_id: `tenant-${i % tenants}` }, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

async function loopsShape(store: Store, tenants: number): Promise<number> {
  let stored = 0
  const deadline = performance.now() + durationMs
  const started = performance.now()
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: batchSize }, () => event(tenants))
        stored += (await store.insertBatch(batch)).inserted
        // The embedded store writes synchronously: let the other loops take turns.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }),
  )
  return stored / ((performance.now() - started) / 1000)
}

async function directShape(store: Store, tenants: number): Promise<number> {
  const audit = await createAuditLogger({ store })
  let stored = 0
  const deadline = performance.now() + durationMs
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (performance.now() < deadline) {
        const i = counter++
        await audit.log({ ...sampleEvent(i, 'd'), tenant_id: `tenant-${i % tenants}` })
        stored += 1
      }
    }),
  )
  const rate = stored / ((performance.now() - started) / 1000)
  await audit.close()
  return rate
}

/** One worker process: opens the parent's store, waits for "go", writes batches until the deadline. */
async function runChild(spec: string): Promise<void> {
  const { kind, location, chain, tenants, tag } = JSON.parse(spec) as { kind: string; location: string; chain: boolean; tenants: number; tag: string }
  const store = await openStore(kind, location, chain)
  process.once('message', async () => {
    let stored = 0
    const started = performance.now()
    const deadline = started + durationMs
    while (performance.now() < deadline) {
      const batch = Array.from({ length: batchSize }, () => event(tenants, tag))
      stored += (await store.insertBatch(batch)).inserted
    }
    process.send!({ stored, seconds: (performance.now() - started) / 1000 })
    await store.close()
    process.disconnect()
  })
  process.send!('ready')
}

async function processesShape(kind: string, location: string, chain: boolean, tenants: number): Promise<number> {
  const children = Array.from({ length: workers }, (_, i) =>
    fork(process.argv[1]!, ['--child', JSON.stringify({ kind, location, chain, tenants, tag: `p${i}-${counter++}` })]),
  )
  const next = (child: (typeof children)[number]) => new Promise<unknown>((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)))
  })
  await Promise.all(children.map(next))
  const results = (await Promise.all(children.map((child) => { const done = next(child); child.send('go'); return done }))) as Array<{ stored: number; seconds: number }>
  return results.reduce((sum, r) => sum + r.stored, 0) / Math.max(...results.map((r) => r.seconds))
}

if (values.child !== undefined) {
  await runChild(values.child)
} else {
  /** What each shape needs: the store the parent opened, and how worker processes open it again. */
  interface Sample {
    kind: string
    location: string
    chain: boolean
    store: Store
    tenants: number
  }
  const shapes: Record<string, { name: string; run: (sample: Sample) => Promise<number> }> = {
    processes: { name: `${workers} processes × ${batchSize}`, run: (s) => processesShape(s.kind, s.location, s.chain, s.tenants) },
    loops: { name: `${workers} loops × ${batchSize}, one process`, run: (s) => loopsShape(s.store, s.tenants) },
    direct: { name: 'direct, 128 callers', run: (s) => directShape(s.store, s.tenants) },
  }
  const rows: string[][] = []
  for (const kind of values.stores.split(',')) {
    for (const tenants of values.tenants.split(',').map(Number)) {
      for (const shapeKey of values.shapes.split(',')) {
        const shape = shapes[shapeKey]
        if (!shape) throw new Error(`unknown shape ${shapeKey} (processes, loops, direct)`)
        const rates: Record<'on' | 'off', number[]> = { on: [], off: [] }
        for (let run = 0; run < runs; run++) {
          const order: Array<'on' | 'off'> = run % 2 === 0 ? ['off', 'on'] : ['on', 'off']
          for (const mode of order) {
            const { store, location, dispose } = await openFresh(kind, mode === 'on')
            rates[mode].push(await shape.run({ kind, location, chain: mode === 'on', store, tenants }))
            await dispose()
          }
        }
        const off = median(rates.off)
        const on = median(rates.on)
        // Each run's chained rate against the unchained one measured next to it: a second view
        // that is less sensitive to the machine drifting over a long run than the two medians.
        const paired = median(rates.on.map((rate, i) => (rates.off[i]! - rate) / rates.off[i]!)) * 100
        rows.push([kind, shape.name, String(tenants), off.toFixed(0), on.toFixed(0), `${(((off - on) / off) * 100).toFixed(1)} %`, `${paired.toFixed(1)} %`, rates.on.map((r) => r.toFixed(0)).join(' / '), rates.off.map((r) => r.toFixed(0)).join(' / ')])
        process.stderr.write(`${rows.at(-1)!.join(' | ')}\n`)
      }
    }
  }
  printTable(['store', 'load', 'tenants', 'unchained events/s', 'chained events/s', 'cost', 'median paired cost', 'chained runs', 'unchained runs'], rows)
}
