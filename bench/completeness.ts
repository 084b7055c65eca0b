/**
 * The completeness check at scale: `--events` events from `--producers` producers (a few numbers
 * of each deliberately left out, so there are gaps to find) in a fresh store with chaining off
 * (the check does not read the chain), then the check's wall time, median of `--runs`.
 *
 *   npm run bench:completeness -- --store postgres --events 1000000 --producers 20 --runs 5
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { checkCompleteness } from '../src/completeness/check.js'
import { noAddedFields, type AuditEvent } from '../src/event/types.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import type { Store } from '../src/store/store.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'postgres' },
    events: { type: 'string', default: '1000000' },
    producers: { type: 'string', default: '20' },
    runs: { type: 'string', default: '5' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const total = Number(values.events)
const producers = Number(values.producers)

async function open(): Promise<{ store: Store; dispose(): Promise<void> }> {
  if (values.store === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-completeness-'))
    const store = await createEmbeddedStore({ dataDir, chain: false })
    await store.migrate()
    return { store, dispose: async () => { await store.close(); rmSync(dataDir, { recursive: true, force: true }) } }
  }
  const schema = `bench_completeness_${process.pid}`
  const store = await createPostgresStore({ connectionString: values['database-url'], schema, chain: false })
  await store.migrate()
  return {
    store,
    dispose: async () => {
      await store.close()
      const client = new pg.Client({ connectionString: values['database-url'] })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await client.end()
    },
  }
}

function event(producer: number, seq: number, at: string): AuditEvent {
  return {
    id: uuidv7(), tenant_id: `tenant_${producer % 5}`, action: 'doc.view', category: 'info', occurred_at: at, received_at: at,
    actor_id: `u${seq % 1000}`, actor_type: 'user', resource_type: 'doc', resource_id: `d${seq}`, success: true, error_message: null,
    description: null, ip_address: null, user_agent: null, session_id: null, request_id: null, client_id: null, metadata: {},
    ...noAddedFields(), producer_id: `producer-${producer}`, producer_seq: seq,
  }
}

const { store, dispose } = await open()
try {
  const perProducer = Math.ceil(total / producers)
  const started = Date.now()
  const at = new Date(Date.now() - 3_600_000).toISOString()
  let batch: AuditEvent[] = []
  let left = 0
  for (let seq = 1; seq <= perProducer; seq++) {
    for (let p = 0; p < producers; p++) {
      // Every 10,007th number of each producer is "lost": gaps to find.
      if (seq % 10_007 === 0) { left += 1; continue }
      batch.push(event(p, seq, at))
      if (batch.length === 5_000) { await store.insertBatch(batch); batch = [] }
    }
  }
  if (batch.length > 0) await store.insertBatch(batch)
  console.error(`loaded ${perProducer * producers - left} events in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const times: number[] = []
  let missing = 0
  for (let run = 0; run < Number(values.runs); run++) {
    const t0 = performance.now()
    const report = await checkCompleteness(store.completeness!, {}, { inFlightBoundMs: 60_000 })
    times.push(performance.now() - t0)
    missing = report.missing_events
  }
  if (missing !== left) throw new Error(`expected ${left} missing, the check found ${missing}`)
  printTable(['store', 'events', 'producers', 'gaps', 'check (median ms)', 'runs'], [[String(values.store), String(perProducer * producers - left), String(producers), String(left), median(times).toFixed(0), times.map((t) => t.toFixed(0)).join(' ')]])
} finally {
  await dispose()
}
