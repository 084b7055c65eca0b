/**
 * Word search: what keeping the search index costs ingest, and how fast one- and two-word
 * searches answer, on PostgreSQL (tsvector + GIN) and the embedded store (FTS5), in one run.
 *
 *   npm run bench:search                                # 1,000,000 events per store
 *   npm run bench:search -- --events 100000 --stores embedded
 * Options: --events N --batch 500 --queries 200 --stores postgres,embedded --database-url URL
 *
 * Ingest: the same events go through the store's own insertBatch into two stores of a kind, in
 * alternating chunks so machine noise hits both alike: "indexed" is the store as shipped; the
 * baseline has the index removed (PostgreSQL: the GIN index dropped, the tsvector still written;
 * embedded: the FTS5 table replaced by a plain table taking the same token text), so the ratio is
 * the cost of the index itself. Search: after ingest, `queries` one-word and two-word searches
 * (words drawn from the events' vocabulary, Zipf-skewed like real text), each with and without a
 * tenant filter, first page of 100, newest first; p50 and p99 in ms.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent } from '../src/event/types.js'
import { parseSearch } from '../src/query/search/syntax.js'
import Database from 'better-sqlite3'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../src/store/embedded/embedded-store.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import type { Store } from '../src/store/store.js'
import { median, percentile, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '500' },
    queries: { type: 'string', default: '200' },
    stores: { type: 'string', default: 'postgres,embedded' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const EVENTS = Number(args.events)
const BATCH = Number(args.batch)
const QUERIES = Number(args.queries)
const CHUNK = Math.max(BATCH, Math.min(50_000, Math.floor(EVENTS / 10)))

/** 5,000 made-up words; word i is drawn with probability ~ 1/(i+1): common words and rare ones. */
const VOCABULARY = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`)
const HARMONIC = VOCABULARY.reduce((sum, _, i) => sum + 1 / (i + 1), 0)
function word(): string {
  let target = Math.random() * HARMONIC
  for (let i = 0; i < VOCABULARY.length; i++) {
    target -= 1 / (i + 1)
    if (target <= 0) return VOCABULARY[i]!
  }
  return VOCABULARY[VOCABULARY.length - 1]!
}
const words = (n: number) => Array.from({ length: n }, word).join(' ')

let sequence = 0
function benchEvent(): AuditEvent {
  const tenant = `tenant_${Math.floor(200 * Math.random() ** 4)}`
  const at = new Date(Date.parse('2026-01-01T00:00:00Z') + 5 * sequence++).toISOString()
  return {
    id: uuidv7(),
    tenant_id: tenant,
    occurred_at: at,
    received_at: at,
    action: `${word()}.${word()}`,
    category: 'info',
    actor_id: `${tenant}-user-${Math.floor(2000 * Math.random() ** 2)}`,
    actor_type: 'user',
    resource_type: 'doc',
    resource_id: `res-${Math.floor(50_000 * Math.random())}`,
    success: true,
    error_message: null,
    description: words(8),
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    metadata: { note: words(4), n: sequence },
    ...noAddedFields(),
  }
}

interface Pair {
  kind: string
  indexed: Store
  baseline: Store
  dispose(): Promise<void>
}

async function postgresPair(): Promise<Pair> {
  const open = async (suffix: string) => {
    const schema = `bench_search_${suffix}_${process.pid}`
    const store = await createPostgresStore({ connectionString: args['database-url'], schema })
    await store.migrate()
    return { store, schema }
  }
  const indexed = await open('gin')
  const baseline = await open('nogin')
  const admin = new pg.Client({ connectionString: args['database-url'] })
  await admin.connect()
  await admin.query(`DROP INDEX "${baseline.schema}".audit_logs_search_idx`)
  return {
    kind: 'postgres',
    indexed: indexed.store,
    baseline: baseline.store,
    dispose: async () => {
      await indexed.store.close()
      await baseline.store.close()
      for (const schema of [indexed.schema, baseline.schema]) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.end()
    },
  }
}

async function embeddedPair(): Promise<Pair> {
  const dirs = [mkdtempSync(`${tmpdir()}/auditq-search-a-`), mkdtempSync(`${tmpdir()}/auditq-search-b-`)]
  const indexed = await createEmbeddedStore({ dataDir: dirs[0]! })
  await indexed.migrate()
  const baseline = await createEmbeddedStore({ dataDir: dirs[1]! })
  await baseline.migrate()
  // Same token text written, into a plain table: only the FTS5 index is missing.
  const db = new Database(`${dirs[1]}/${EMBEDDED_DB_FILE}`, { timeout: 5_000 })
  db.exec('DROP TRIGGER audit_logs_fts_delete; DROP TABLE audit_logs_fts; CREATE TABLE audit_logs_fts (doc TEXT)')
  db.close()
  return {
    kind: 'embedded',
    indexed,
    baseline,
    dispose: async () => {
      await indexed.close()
      await baseline.close()
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function ingest(store: Store, events: readonly AuditEvent[]): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < events.length; i += BATCH) await store.insertBatch(events.slice(i, i + BATCH))
  return events.length / ((performance.now() - started) / 1000)
}

async function latencies(store: Store, make: () => string, tenant: boolean): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < QUERIES; i++) {
    const search = parseSearch(make())
    const filter = tenant ? { tenant_id: `tenant_${Math.floor(200 * Math.random() ** 4)}`, search } : { search }
    const started = performance.now()
    await store.query(filter, { limit: 100 })
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)
}

const rows: string[][] = []
const results: Record<string, unknown> = {}
for (const kind of args.stores.split(',')) {
  const pair = kind === 'postgres' ? await postgresPair() : await embeddedPair()
  try {
    const rates = { indexed: [] as number[], baseline: [] as number[] }
    for (let done = 0; done < EVENTS; done += CHUNK) {
      const chunk = Array.from({ length: Math.min(CHUNK, EVENTS - done) }, benchEvent)
      // Alternate which goes first, so neither always meets a warmer cache.
      const order = (done / CHUNK) % 2 === 0 ? (['indexed', 'baseline'] as const) : (['baseline', 'indexed'] as const)
      for (const which of order) rates[which].push(await ingest(pair[which], chunk))
      process.stderr.write(`${kind}: ${done + chunk.length}/${EVENTS} events, load ${loadavg()[0]!.toFixed(1)}\n`)
    }
    const indexedRate = median(rates.indexed)
    const baselineRate = median(rates.baseline)
    rows.push([kind, 'ingest ev/s (median of chunks)', `${baselineRate.toFixed(0)} without index`, `${indexedRate.toFixed(0)} with index`, `${((indexedRate / baselineRate - 1) * 100).toFixed(0)}%`])
    const searches: Record<string, number[]> = {}
    for (const [name, make] of [['one word', () => word()], ['two words', () => `${word()} ${word()}`]] as const) {
      for (const tenant of [false, true]) {
        await latencies(pair.indexed, make, tenant) // warm-up
        const times = await latencies(pair.indexed, make, tenant)
        const label = `${name}${tenant ? ', one tenant' : ', all tenants'}`
        searches[label] = times
        rows.push([kind, `search: ${label}`, `p50 ${percentile(times, 50).toFixed(2)} ms`, `p99 ${percentile(times, 99).toFixed(2)} ms`, ''])
      }
    }
    results[kind] = { ingest: { indexed: rates.indexed, baseline: rates.baseline }, search: Object.fromEntries(Object.entries(searches).map(([k, t]) => [k, { p50: percentile(t, 50), p99: percentile(t, 99) }])) }
  } finally {
    await pair.dispose()
  }
}
printTable(['store', 'measure', '', '', 'vs baseline'], rows)
process.stdout.write('\n' + JSON.stringify({ bench: 'search', events: EVENTS, batch: BATCH, queries: QUERIES, load: loadavg(), results }) + '\n')
