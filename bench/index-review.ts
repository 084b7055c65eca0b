/**
 * The index set review (docs/decisions.md, "audit_logs index set at 1M rows"): builds a table of
 * 1,000,000 events (bench/index-review-data.ts), then with each index set, the one migrations
 * before 93 made ("before") and the one after migration 93 ("after"), in the same run:
 *   - times every query of bench/index-review-queries.ts (p50/p99 over up to --runs executions,
 *     at most --query-ms per query), in --rounds rounds alternating the sets, and
 *   - measures the store's chained insert (createPostgresStore().insertBatch, batches of
 *     --batch) for --seconds, --insert-runs times alternating the sets, deleting what each
 *     sample inserted so every sample starts from the same 1M rows.
 * Both sets see the same rows and the same statistics (one ANALYZE after the fill).
 *
 *   npm run bench:index-review
 *   npm run bench:index-review -- --rows 1000000 --runs 50 --explain-dir /tmp/plans --keep
 * --reuse SCHEMA times an existing kept schema instead of building one.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.js'
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
  },
})
const databaseUrl = args['database-url']

/** Index name → CREATE statement. */
type IndexSet = Map<string, string>

/** Migration 93's set, derived from its statements applied to `before`, so the bench measures what the migration makes. */
function afterMigration(before: IndexSet): IndexSet {
  const after = new Map(before)
  for (const statement of POSTGRES_MIGRATIONS[93] ?? []) {
    const drop = /^DROP INDEX (\w+)/.exec(statement)
    if (drop) after.delete(drop[1]!)
    const create = /^CREATE (?:UNIQUE )?INDEX (\w+) /.exec(statement)
    if (create) after.set(create[1]!, statement)
  }
  return after
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

async function timeQuery(client: pg.Client, query: BenchQuery): Promise<number[]> {
  for (let i = 0; i < 3; i++) await client.query(query.text, query.values)
  const samples: number[] = []
  const budget = Number(args['query-ms'])
  const started = performance.now()
  while (samples.length < Number(args.runs) && (samples.length < 7 || performance.now() - started < budget)) {
    const t0 = performance.now()
    await client.query(query.text, query.values)
    samples.push(performance.now() - t0)
  }
  return samples
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

/** Back to the filled rows: retention's path is the only one the append-only guard lets delete. */
async function resetInserts(client: pg.Client): Promise<void> {
  await client.query("SET auditq.retention = 'on'")
  await client.query('DELETE FROM audit_logs WHERE occurred_at >= $1', [new Date(NEW_EVENTS_FROM).toISOString()])
  await client.query('RESET auditq.retention')
  await client.query('VACUUM audit_logs')
}

async function build(client: pg.Client, schema: string): Promise<void> {
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  await store.migrate()
  await store.close()
  const before = await currentIndexes(client)
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
    const before = await currentIndexes(client)
    const sets: Record<string, IndexSet> = { before, after: afterMigration(before) }
    const names = Object.keys(sets)
    const queries = await benchQueries(client)
    const times = new Map<string, number[]>()
    const rates = new Map<string, number[]>()
    const sizes = new Map<string, string>()
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        await useIndexes(client, sets[name]!)
        const { rows } = await client.query<{ size: string }>("SELECT pg_size_pretty(pg_indexes_size('audit_logs')) AS size")
        sizes.set(name, rows[0]!.size)
        for (const query of queries) {
          const key = `${name}|${query.name}`
          times.set(key, [...(times.get(key) ?? []), ...(await timeQuery(client, query))])
          if (round === 0 && args['explain-dir']) {
            mkdirSync(args['explain-dir'], { recursive: true })
            writeFileSync(join(args['explain-dir'], `${name}-${query.name.replace(/\W+/g, '_')}.txt`), `${query.text}\n${JSON.stringify(query.values)}\n\n${await explain(client, query)}\n`)
          }
        }
        process.stderr.write(`round ${round + 1}: queries with ${name} done\n`)
      }
    }
    for (let run = 0; run < Number(args['insert-runs']); run++) {
      for (const name of run % 2 === 0 ? names : [...names].reverse()) {
        await useIndexes(client, sets[name]!)
        rates.set(name, [...(rates.get(name) ?? []), await insertRate(schema)])
        await resetInserts(client)
        process.stderr.write(`insert run ${run + 1}: ${name} ${rates.get(name)!.at(-1)!.toFixed(0)} ev/s\n`)
      }
    }
    await useIndexes(client, before)
    printTable(
      ['query', 'kind', ...names.flatMap((name) => [`${name} p50 ms`, `${name} p99 ms`]), 'p99 change'],
      queries.map((query) => {
        const stats = names.map((name) => [...times.get(`${name}|${query.name}`)!].sort((a, b) => a - b))
        const p99 = stats.map((sorted) => percentile(sorted, 99))
        return [
          query.name,
          query.kind,
          ...stats.flatMap((sorted) => [percentile(sorted, 50).toFixed(2), percentile(sorted, 99).toFixed(2)]),
          `${((p99[1]! / p99[0]! - 1) * 100).toFixed(0)}%`,
        ]
      }),
    )
    process.stdout.write('\n')
    printTable(
      ['index set', 'secondary indexes', 'index size', `chained insert ev/s (batch ${args.batch}), median`, 'samples'],
      names.map((name) => [name, String(sets[name]!.size), sizes.get(name)!, median(rates.get(name)!).toFixed(0), rates.get(name)!.map((r) => r.toFixed(0)).join(', ')]),
    )
    const change = median(rates.get('after')!) / median(rates.get('before')!) - 1
    process.stdout.write(`\ninsert throughput after vs before: ${(change * 100).toFixed(1)}%\n`)
  } finally {
    if (!args.keep && !args.reuse) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    else process.stderr.write(`kept schema ${schema}\n`)
    await client.end()
  }
}

await main()
