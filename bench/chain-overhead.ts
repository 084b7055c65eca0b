/**
 * Cost of hash chaining: events/s with chaining on vs off, same run, same store kind, alternating
 * which goes first. Two load shapes:
 *  - workers:  N concurrent insertBatch loops of `--batch` events (queue-mode workers), over
 *              `--tenants` tenants (1 = every batch contends for the same head row);
 *  - direct:   the SDK's group commit with 128 concurrent `log()` callers (direct mode).
 *
 *   npm run bench:chain -- --stores postgres,embedded --seconds 5 --runs 3 --workers 4 --tenants 1,20
 */
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
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)
const workers = Number(values.workers)
const batchSize = Number(values.batch)

async function openFresh(kind: string, chain: boolean): Promise<{ store: Store; dispose: () => Promise<void> }> {
  if (kind === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-chain-'))
    const store = await createEmbeddedStore({ dataDir, chain })
    await store.migrate()
    return { store, dispose: async () => { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = `bench_chain_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const store = await createPostgresStore({ connectionString: values['database-url'], schema, chain })
  await store.migrate()
  return {
    store,
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
function event(tenants: number): AuditEvent {
  const i = counter++
  const result = validateEvent({ ...sampleEvent(i, 'c'), tenant_id: `tenant-${i % tenants}` }, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

async function workersShape(store: Store, tenants: number): Promise<number> {
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

const rows: string[][] = []
for (const kind of values.stores.split(',')) {
  for (const tenants of values.tenants.split(',').map(Number)) {
    for (const [shapeName, shape] of [
      [`${workers} workers × ${batchSize}`, workersShape],
      ['direct, 128 callers', directShape],
    ] as const) {
      const rates: Record<'on' | 'off', number[]> = { on: [], off: [] }
      for (let run = 0; run < runs; run++) {
        const order: Array<'on' | 'off'> = run % 2 === 0 ? ['off', 'on'] : ['on', 'off']
        for (const mode of order) {
          const { store, dispose } = await openFresh(kind, mode === 'on')
          rates[mode].push(await shape(store, tenants))
          await dispose()
        }
      }
      const off = median(rates.off)
      const on = median(rates.on)
      rows.push([kind, shapeName, String(tenants), off.toFixed(0), on.toFixed(0), `${(((off - on) / off) * 100).toFixed(1)} %`, rates.on.map((r) => r.toFixed(0)).join(' / '), rates.off.map((r) => r.toFixed(0)).join(' / ')])
      process.stderr.write(`${rows.at(-1)!.join(' | ')}\n`)
    }
  }
}
printTable(['store', 'load', 'tenants', 'unchained events/s', 'chained events/s', 'cost', 'chained runs', 'unchained runs'], rows)
