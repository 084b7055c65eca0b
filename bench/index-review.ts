/**
 * The index set review (docs/decisions.md, "The audit_logs index set at 1,000,000 rows"): builds a table of
 * 1,000,000 events (bench/index-review-data.ts), then with each index set, the one the
 * migrations make ("current") and CANDIDATE below ("candidate"), in the same run:
 *   - times every query of bench/index-review-queries.ts in the server (p50/p99 over up to --runs
 *     executions, at most --query-ms per query), in --rounds rounds alternating the sets, with the
 *     buffers each reads, and
 *   - measures inserts, --insert-runs times alternating the sets: what --cost-batches batches
 *     cost the server per event (insertCost: buffers, pages dirtied, WAL), then the store's own
 *     chained insert (createPostgresStore().insertBatch, batches of --batch) for --seconds
 *     (0: skipped), deleting what each sample inserted so every sample starts from the same rows.
 * Both sets see the same rows and the same statistics (one ANALYZE after the fill).
 *
 *   npm run bench:index-review
 *   npm run bench:index-review -- --rows 1000000 --runs 50 --explain-dir plans --keep
 * --reuse SCHEMA times an existing kept schema instead of building one. --leave-one-out measures
 * only inserts: the current set, and it without each one of its indexes in turn (what each costs).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { INSERT_COLUMNS, insertParams, unnestSource } from '../src/store/postgres/sql.js'
import { EVENT_FIELDS } from '../src/event/types.js'
import { fillSql, LINKS_SQL, newEvent, NEW_EVENTS_FROM } from './index-review-data.js'
import { benchQueries, type BenchQuery } from './index-review-queries.js'
import { median, percentile, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '50' },
    'query-ms': { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '2' },
    batch: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '5' },
    'insert-runs': { type: 'string', default: '5' },
    'explain-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
    'leave-one-out': { type: 'boolean', default: false },
    'cost-batches': { type: 'string', default: '20' },
  },
})
const databaseUrl = args['database-url']

/** Index name → CREATE statement. */
type IndexSet = Map<string, string>

/**
 * The candidate measured against the set the migrations make: the two indexes whose entries land
 * on random leaf pages (actor, resource) without their `id DESC` suffix, 16 bytes less per entry
 * (docs/decisions.md, "The audit_logs index set at 1,000,000 rows": measured, not adopted).
 * Same names, so the query plans can be compared index for index.
 */
const CANDIDATE = [
  'DROP INDEX audit_logs_actor_idx',
  'CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, occurred_at DESC)',
  'DROP INDEX audit_logs_resource_idx',
  'CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_id, occurred_at DESC)',
]

/** `set` after DROP INDEX / CREATE INDEX `statements`. */
function applyStatements(set: IndexSet, statements: readonly string[]): IndexSet {
  const result = new Map(set)
  for (const statement of statements) {
    const drop = /^DROP INDEX (\w+)/.exec(statement)
    if (drop) result.delete(drop[1]!)
    const create = /^CREATE (?:UNIQUE )?INDEX (\w+) /.exec(statement)
    if (create) result.set(create[1]!, statement)
  }
  return result
}

/** The set migrations make, read from a freshly migrated schema (so a reused table can be reset to it). */
async function migratedIndexes(client: pg.Client): Promise<IndexSet> {
  const schema = `bench_ix_ref_${process.pid}`
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  try {
    await store.migrate()
    const { rows } = await client.query<{ name: string; def: string }>(
      "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit_logs' AND indexname <> 'audit_logs_pkey'",
      [schema],
    )
    return new Map(rows.map((row) => [row.name, row.def.replace(` ON ${schema}.audit_logs `, ' ON audit_logs ')]))
  } finally {
    await store.close()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }
}

async function currentIndexes(client: pg.Client): Promise<IndexSet> {
  const { rows } = await client.query<{ name: string; def: string }>(
    "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_logs' AND indexname <> 'audit_logs_pkey'",
  )
  return new Map(rows.map((row) => [row.name, row.def]))
}

/** Drops what `wanted` lacks, creates what it adds (or defines differently). */
async function useIndexes(client: pg.Client, wanted: IndexSet): Promise<void> {
  const present = await currentIndexes(client)
  for (const [name, def] of present) if (!wanted.has(name) || !sameDefinition(def, wanted.get(name)!)) await client.query(`DROP INDEX ${name}`)
  const left = await currentIndexes(client)
  for (const [name, def] of wanted) if (!left.has(name)) await client.query(def)
  await client.query('CHECKPOINT')
}

/** pg_indexes spells a definition its own way (schema-qualified, `USING btree`): compare the key part only. */
function sameDefinition(a: string, b: string): boolean {
  const key = (def: string) => def.replace(/^CREATE (UNIQUE )?INDEX \w+ ON \S+ (USING btree )?/i, '').replace(/\s+/g, ' ').replaceAll('::text', '').replace(/[()]/g, '')
  return key(a) === key(b)
}

/**
 * Server-side execution times (EXPLAIN ANALYZE with per-node timing off, so the overhead is one
 * clock read per statement): on a shared machine whose processes get paused while others
 * measure, the client's wall clock would time those pauses. Buffers are the load-free figure.
 */
async function timeQuery(client: pg.Client, query: BenchQuery): Promise<{ ms: number[]; buffers: number }> {
  const run = async () => {
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number>; 'Execution Time': number }> }>(
      `EXPLAIN (ANALYZE, TIMING OFF, BUFFERS, FORMAT JSON) ${query.text}`,
      query.values,
    )
    const { Plan: plan, 'Execution Time': ms } = rows[0]!['QUERY PLAN'][0]!
    return { ms, buffers: plan['Shared Hit Blocks']! + plan['Shared Read Blocks']! }
  }
  for (let i = 0; i < 3; i++) await run()
  const ms: number[] = []
  let buffers = 0
  const budget = Number(args['query-ms'])
  const started = performance.now()
  while (ms.length < Number(args.runs) && (ms.length < 7 || performance.now() - started < budget)) {
    const sample = await run()
    ms.push(sample.ms)
    buffers = sample.buffers
  }
  return { ms, buffers }
}

async function explain(client: pg.Client, query: BenchQuery): Promise<string> {
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${query.text}`, query.values)
  return rows.map((row) => row['QUERY PLAN']).join('\n')
}

/** Events per second through the store's own chained insert, generation excluded. */
async function insertRate(schema: string): Promise<number> {
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  try {
    const batch = Number(args.batch)
    let events = 0
    let busyMs = 0
    await store.insertBatch(Array.from({ length: batch }, newEvent)) // heads into the cache, statement prepared
    while (busyMs < Number(args.seconds) * 1000) {
      const events_ = Array.from({ length: batch }, newEvent)
      const t0 = performance.now()
      const result = await store.insertBatch(events_)
      busyMs += performance.now() - t0
      if (result.inserted !== batch) throw new Error(`expected ${batch} inserted, got ${result.inserted}`)
      events += batch
    }
    return events / (busyMs / 1000)
  } finally {
    await store.close()
  }
}

/** The event insert of the store's chained statement (INSERT_LINKED_SQL) without the chain call: the part the indexes cost. */
const EVENT_INSERT_SQL = `INSERT INTO audit_logs (${INSERT_COLUMNS}) ${unnestSource(EVENT_FIELDS.length + 1)}`

interface InsertCost {
  serverMs: number
  buffers: number
  dirtied: number
  walFpi: number
  walBytes: number
}

/**
 * What inserting --cost-batches batches costs the server, per event, from EXPLAIN (ANALYZE,
 * BUFFERS, WAL) of each batch's insert, starting right after a checkpoint: buffer accesses, pages
 * dirtied, full-page images and WAL bytes count index maintenance whatever else the machine runs,
 * where events/s on a shared machine move with its load. serverMs is the median per 1,000 events.
 */
async function insertCost(client: pg.Client): Promise<InsertCost> {
  await client.query('CHECKPOINT')
  const batch = Number(args.batch)
  const total = { buffers: 0, dirtied: 0, walFpi: 0, walBytes: 0 }
  const ms: number[] = []
  for (let i = 0; i < Number(args['cost-batches']); i++) {
    const events = Array.from({ length: batch }, newEvent)
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number>; 'Execution Time': number }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) ${EVENT_INSERT_SQL}`,
      insertParams(events),
    )
    const { Plan: plan, 'Execution Time': time } = rows[0]!['QUERY PLAN'][0]!
    total.buffers += plan['Shared Hit Blocks']! + plan['Shared Read Blocks']!
    total.dirtied += plan['Shared Dirtied Blocks']!
    total.walFpi += plan['WAL FPI']!
    total.walBytes += plan['WAL Bytes']!
    ms.push((time / batch) * 1000)
  }
  const n = batch * Number(args['cost-batches'])
  return { serverMs: median(ms), buffers: total.buffers / n, dirtied: total.dirtied / n, walFpi: total.walFpi / n, walBytes: total.walBytes / n }
}

/** Back to the filled rows: retention's path is the only one the append-only guard lets delete. */
async function resetInserts(client: pg.Client): Promise<void> {
  await client.query("SET auditq.retention = 'on'")
  await client.query('DELETE FROM audit_logs WHERE occurred_at >= $1', [new Date(NEW_EVENTS_FROM).toISOString()])
  await client.query('RESET auditq.retention')
  await client.query('VACUUM audit_logs')
}

/** Chained insert rates per set, --insert-runs samples each, the order rotating every run. */
async function measureInserts(client: pg.Client, schema: string, sets: Record<string, IndexSet>): Promise<{ rates: Map<string, number[]>; costs: Map<string, InsertCost[]> }> {
  const names = Object.keys(sets)
  const rates = new Map<string, number[]>()
  const costs = new Map<string, InsertCost[]>()
  for (let run = 0; run < Number(args['insert-runs']); run++) {
    for (const name of names.map((_, i) => names[(i + run) % names.length]!)) {
      await useIndexes(client, sets[name]!)
      costs.set(name, [...(costs.get(name) ?? []), await insertCost(client)])
      await resetInserts(client)
      // --seconds 0: the server-side figures only (a loaded machine makes events/s mostly noise).
      rates.set(name, [...(rates.get(name) ?? []), Number(args.seconds) > 0 ? await insertRate(schema) : NaN])
      await resetInserts(client)
      process.stderr.write(`insert run ${run + 1}: ${name} done\n`)
    }
  }
  return { rates, costs }
}

/** An events/s figure, or a dash when --seconds 0 skipped the timed inserts. */
const rateCell = (rate: number) => (Number.isNaN(rate) ? '–' : rate.toFixed(0))

/** Medians over the runs of each per-event figure. */
function costCells(list: InsertCost[]): string[] {
  const m = (pick: (cost: InsertCost) => number) => median(list.map(pick))
  return [m((c) => c.serverMs).toFixed(1), m((c) => c.buffers).toFixed(1), m((c) => c.dirtied).toFixed(2), m((c) => c.walFpi).toFixed(2), m((c) => c.walBytes).toFixed(0)]
}
const COST_HEADER = ['server ms / 1k events', 'buffers / event', 'dirtied / event', 'WAL FPI / event', 'WAL bytes / event']

async function leaveOneOut(client: pg.Client, schema: string, before: IndexSet): Promise<void> {
  const sets: Record<string, IndexSet> = { 'all (current)': before }
  // Indexes this data leaves empty (partial ones on shredding, the search backfill, layout 1's seqs) cost nothing here.
  const { rows } = await client.query<{ name: string }>(
    "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'audit_logs'::regclass AND pg_relation_size(indexrelid) <= 16384",
  )
  const empty = new Set(rows.map((row) => row.name))
  for (const name of before.keys()) if (!empty.has(name)) sets[`without ${name}`] = new Map([...before].filter(([other]) => other !== name))
  const { rates, costs } = await measureInserts(client, schema, sets)
  await useIndexes(client, before)
  const base = median(rates.get('all (current)')!)
  const baseMs = median(costs.get('all (current)')!.map((c) => c.serverMs))
  printTable(
    ['index set', `chained insert ev/s (batch ${args.batch}), median`, 'vs all', ...COST_HEADER, 'server ms vs all'],
    Object.keys(sets).map((name) => {
      const rate = median(rates.get(name)!)
      const ms = median(costs.get(name)!.map((c) => c.serverMs))
      return [name, rateCell(rate), Number.isNaN(rate) ? '–' : `${((rate / base - 1) * 100).toFixed(1)}%`, ...costCells(costs.get(name)!), `${((ms / baseMs - 1) * 100).toFixed(1)}%`]
    }),
  )
}

async function build(client: pg.Client, schema: string): Promise<void> {
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  await store.migrate()
  await store.close()
  const before = await migratedIndexes(client)
  await useIndexes(client, new Map())
  process.stderr.write(`filling ${args.rows} rows…\n`)
  await client.query('SET maintenance_work_mem = \'256MB\'')
  await client.query(fillSql(Number(args.rows)))
  for (const statement of LINKS_SQL) await client.query(statement)
  process.stderr.write('building the indexes…\n')
  await useIndexes(client, before)
  await client.query('VACUUM ANALYZE audit_logs')
  await client.query('VACUUM ANALYZE audit_chain_links')
}

async function main(): Promise<void> {
  const schema = args.reuse ?? `bench_ix_${process.pid}`
  const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema} -c TimeZone=UTC` })
  await client.connect()
  try {
    if (!args.reuse) await build(client, schema)
    else await resetInserts(client)
    const current = await migratedIndexes(client)
    if (args['leave-one-out']) return await leaveOneOut(client, schema, current)
    const sets: Record<string, IndexSet> = { current, candidate: applyStatements(current, CANDIDATE) }
    const names = Object.keys(sets)
    const queries = await benchQueries(client)
    const times = new Map<string, number[]>()
    const pages = new Map<string, number>()
    const sizes = new Map<string, string>()
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        await useIndexes(client, sets[name]!)
        const { rows } = await client.query<{ size: string }>("SELECT pg_size_pretty(pg_indexes_size('audit_logs')) AS size")
        sizes.set(name, rows[0]!.size)
        for (const query of queries) {
          const key = `${name}|${query.name}`
          const { ms, buffers } = await timeQuery(client, query)
          times.set(key, [...(times.get(key) ?? []), ...ms])
          pages.set(key, buffers)
          if (round === 0 && args['explain-dir']) {
            mkdirSync(args['explain-dir'], { recursive: true })
            writeFileSync(join(args['explain-dir'], `${name}-${query.name.replace(/\W+/g, '_')}.txt`), `${query.text}\n${JSON.stringify(query.values)}\n\n${await explain(client, query)}\n`)
          }
        }
        process.stderr.write(`round ${round + 1}: queries with ${name} done\n`)
      }
    }
    const { rates, costs } = await measureInserts(client, schema, sets)
    await useIndexes(client, current)
    if (Number(args.rounds) > 0) printTable(
      ['query', 'kind', ...names.flatMap((name) => [`${name} p50 ms`, `${name} p99 ms`, `${name} buffers`]), 'p99 change'],
      queries.map((query) => {
        const stats = names.map((name) => [...times.get(`${name}|${query.name}`)!].sort((a, b) => a - b))
        const p99 = stats.map((sorted) => percentile(sorted, 99))
        return [
          query.name,
          query.kind,
          ...stats.flatMap((sorted, i) => [percentile(sorted, 50).toFixed(2), percentile(sorted, 99).toFixed(2), String(pages.get(`${names[i]}|${query.name}`))]),
          `${((p99[1]! / p99[0]! - 1) * 100).toFixed(0)}%`,
        ]
      }),
    )
    process.stdout.write('\n')
    printTable(
      ['index set', 'secondary indexes', 'index size', `chained insert ev/s (batch ${args.batch}), median`, 'samples', ...COST_HEADER],
      names.map((name) => [name, String(sets[name]!.size), sizes.get(name)!, rateCell(median(rates.get(name)!)), rates.get(name)!.map(rateCell).join(', '), ...costCells(costs.get(name)!)]),
    )
    const change = median(rates.get('candidate')!) / median(rates.get('current')!) - 1
    const msChange = median(costs.get('candidate')!.map((c) => c.serverMs)) / median(costs.get('current')!.map((c) => c.serverMs)) - 1
    const walChange = median(costs.get('candidate')!.map((c) => c.walBytes)) / median(costs.get('current')!.map((c) => c.walBytes)) - 1
    const rate = Number(args.seconds) > 0 ? `chained insert ev/s ${(change * 100).toFixed(1)}%, ` : ''
    process.stdout.write(`\ncandidate vs current: ${rate}server time per event ${(msChange * 100).toFixed(1)}%, WAL bytes per event ${(walChange * 100).toFixed(1)}%\n`)
  } finally {
    if (!args.keep && !args.reuse) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    else process.stderr.write(`kept schema ${schema}\n`)
    await client.end()
  }
}

await main()
