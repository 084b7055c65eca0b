/**
 * PostgreSQL batch inserts, idempotent on `id`, measured three ways in one run on one connection
 * (the way group commit writes: one batch at a time, each its own commit):
 *   values — multi-row INSERT … VALUES, chunked under the 65,535-parameter limit, ON CONFLICT DO NOTHING
 *   unnest — INSERT … SELECT FROM unnest($1::uuid[], …), one array per column; `unnest-prepared`
 *            is the same statement named, so it is parsed and planned once per connection (the store's)
 *   copy   — COPY into a temp staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING
 * and, by name only (`--methods`): `unnest-nosearch` (the store's statement with the search
 * documents NULL: what word search costs the insert) and `json` / `jsonb` (the whole batch as one
 * JSON parameter, split into columns by json_to_recordset / jsonb_to_recordset)
 * and, with --index-cost, what the store's indexes cost those inserts on a table of ~1M rows, and
 * what word search costs them: the tsvector the insert writes, and its GIN index (migration 50).
 *
 *   npm run bench:pg-insert
 *   npm run bench:pg-insert -- --index-cost
 * Options: --database-url URL --sizes 1,10,100,500,1000,5000 --runs 5 --seconds 2 --methods values,unnest,unnest-prepared,copy
 *
 * COPY needs `pg-copy-streams`, which is NOT a dependency of auditq (the store does not use COPY).
 * Install it for the measurement only, either in the repo without saving it:
 *   npm install --no-save pg-copy-streams
 * or outside the work tree, leaving node_modules untouched, and point the script at it:
 *   npm install --prefix /tmp/pgcopy --no-save pg-copy-streams
 *   npm run bench:pg-insert -- --copy-streams-dir /tmp/pgcopy
 * Without it the copy method is skipped with a message.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { EVENT_FIELDS, type AuditEvent } from '../src/event/types.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.js'
import { COLUMNS, COLUMN_TYPES, INSERT_COLUMNS, INSERT_UNNEST_NAME, INSERT_UNNEST_SQL, insertParams, searchDocuments, arrayLiteral } from '../src/store/postgres/sql.js'
import { CURRENT_CANONICAL_VERSION } from '../src/integrity/canonical-version.js'
import { skewedEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    sizes: { type: 'string', default: '1,10,100,500,1000,5000' },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    methods: { type: 'string', default: 'values,unnest,unnest-prepared,copy' },
    'copy-streams-dir': { type: 'string' },
    'index-cost': { type: 'boolean', default: false },
    'fill-rows': { type: 'string', default: '1000000' },
    'index-batch': { type: 'string', default: '500' },
    'warmup-seconds': { type: 'string', default: '0' },
  },
})
const databaseUrl = args['database-url']
const runs = Number(args.runs)
const seconds = Number(args.seconds)

/** Returns the number of rows inserted; the connection's search_path points at the bench schema. */
type InsertMethod = (client: pg.Client, events: readonly AuditEvent[]) => Promise<number>

// ---------------------------------------------------------------- the three methods

/** PostgreSQL's wire protocol numbers parameters with a 16-bit count. */
const MAX_PARAMETERS = 65_535
const VALUES_ROWS_PER_STATEMENT = Math.floor(MAX_PARAMETERS / EVENT_FIELDS.length)

const insertValues: InsertMethod = async (client, events) => {
  const chunks: AuditEvent[][] = []
  for (let i = 0; i < events.length; i += VALUES_ROWS_PER_STATEMENT) chunks.push(events.slice(i, i + VALUES_ROWS_PER_STATEMENT))
  // One chunk is one statement and so its own transaction; only several chunks need BEGIN/COMMIT.
  const inTransaction = chunks.length > 1
  if (inTransaction) await client.query('BEGIN')
  try {
    let inserted = 0
    for (const chunk of chunks) {
      const params: unknown[] = []
      const tuples = chunk.map((event) => {
        const placeholders = EVENT_FIELDS.map((field) => {
          params.push(field === 'metadata' ? JSON.stringify(event.metadata) : event[field])
          return `$${params.length}`
        })
        return `(${placeholders.join(', ')})`
      })
      const result = await client.query(
        `INSERT INTO audit_logs (${COLUMNS}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`,
        params,
      )
      inserted += result.rowCount ?? 0
    }
    if (inTransaction) await client.query('COMMIT')
    return inserted
  } catch (error) {
    if (inTransaction) await client.query('ROLLBACK')
    throw error
  }
}

const insertUnnest: InsertMethod = async (client, events) => {
  const result = await client.query(INSERT_UNNEST_SQL, insertParams(events))
  return result.rowCount ?? 0
}

/** The same statement, named: prepared once per connection, so later calls skip parse and plan. This is the store's. */
const insertUnnestPrepared: InsertMethod = async (client, events) => {
  const result = await client.query({ name: INSERT_UNNEST_NAME, text: INSERT_UNNEST_SQL, values: insertParams(events) })
  return result.rowCount ?? 0
}

/**
 * The whole batch as one JSON parameter: `JSON.stringify` of the events (native, no per-element
 * escaping in JS) and the server splits it into columns with json_to_recordset (`json`) or
 * jsonb_to_recordset (`jsonb`). The search documents ride along as one more key per row.
 */
function insertJson(kind: 'json' | 'jsonb'): InsertMethod {
  const record = EVENT_FIELDS.map((field) => `${field} ${COLUMN_TYPES[field]}`).join(', ')
  const text = `INSERT INTO audit_logs (${INSERT_COLUMNS})
    SELECT ${EVENT_FIELDS.map((f) => `x.${f}`).join(', ')}, x.search::tsvector, ${CURRENT_CANONICAL_VERSION}::smallint
    FROM ${kind}_to_recordset($1::${kind}) AS x(${record}, search text)
    ON CONFLICT (tenant_id, id) DO NOTHING`
  return async (client, events) => {
    const docs = searchDocuments(events)
    const rows = events.map((event, i) => ({ ...event, search: docs[i] }))
    const result = await client.query({ name: `bench_${kind}`, text, values: [JSON.stringify(rows)] })
    return result.rowCount ?? 0
  }
}

type CopyFrom = (sql: string) => pg.Submittable & NodeJS.WritableStream

/** COPY's text format: tab-separated, `\N` for NULL, backslash escapes. */
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  const text = typeof value === 'string' ? value : typeof value === 'boolean' ? (value ? 't' : 'f') : JSON.stringify(value)
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
}

function copyText(events: readonly AuditEvent[]): string {
  let text = ''
  for (const event of events) text += EVENT_FIELDS.map((field) => copyField(event[field])).join('\t') + '\n'
  return text
}

function insertCopy(copyFrom: CopyFrom): InsertMethod {
  return async (client, events) => {
    // Created once per connection; ON COMMIT DELETE ROWS empties it at every commit. Three round
    // trips: BEGIN + staging, the COPY itself, INSERT + COMMIT.
    await client.query(
      'BEGIN; CREATE TEMP TABLE IF NOT EXISTS auditq_staging (LIKE audit_logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS',
    )
    try {
      await pipeline(Readable.from([copyText(events)]), client.query(copyFrom(`COPY auditq_staging (${COLUMNS}) FROM STDIN`)))
      const results = (await client.query(
        `INSERT INTO audit_logs (${COLUMNS}) SELECT ${COLUMNS} FROM auditq_staging ON CONFLICT (id) DO NOTHING; COMMIT`,
      )) as unknown as pg.QueryResult[]
      return results[0]?.rowCount ?? 0
    } catch (error) {
      await client.query('ROLLBACK')
      throw error
    }
  }
}

async function loadCopyFrom(): Promise<CopyFrom | undefined> {
  const specifier = 'pg-copy-streams' // a variable, so tsc does not look for its types
  try {
    const dir = args['copy-streams-dir']
    const loaded = (dir ? createRequire(join(dir, 'noop.js'))(specifier) : await import(specifier)) as {
      from?: CopyFrom
      default?: { from?: CopyFrom }
    }
    return loaded.from ?? loaded.default?.from
  } catch {
    process.stderr.write('copy: pg-copy-streams is not installed; skipping (see the header of this file)\n')
    return undefined
  }
}

// ---------------------------------------------------------------- events and schema

/** Skewed like real traffic: a few large tenants, many small ones; actors mostly tenant-local. */
let sequence = 0
const NEW_EVENTS_FROM = Date.parse('2026-06-01T00:00:00.000Z') // after everything --index-cost fills

function benchEvent(): AuditEvent {
  const at = new Date(NEW_EVENTS_FROM + 7 * sequence++).toISOString()
  return skewedEvent({ at, n: sequence, error: Math.random() < 0.03 ? 'denied' : null })
}

async function withBenchSchema<T>(fn: (client: pg.Client, schema: string) => Promise<T>): Promise<T> {
  const schema = `bench_pg_${process.pid}`
  const store = await createPostgresStore({ connectionString: databaseUrl, schema })
  const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema} -c TimeZone=UTC` })
  await client.connect()
  try {
    await store.migrate()
    return await fn(client, schema)
  } finally {
    await store.close()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
  }
}

/** Events per second spent inside `method` only (event generation is not timed). */
async function throughput(client: pg.Client, method: InsertMethod, batchSize: number, forSeconds = seconds): Promise<number> {
  let events = 0
  let busyMs = 0
  while (busyMs < forSeconds * 1000) {
    const batch = Array.from({ length: batchSize }, benchEvent)
    const t0 = performance.now()
    const inserted = await method(client, batch)
    busyMs += performance.now() - t0
    if (inserted !== batchSize) throw new Error(`expected ${batchSize} inserted, got ${inserted}`)
    events += batchSize
  }
  return events / (busyMs / 1000)
}

/** Every method must be idempotent on id, within a batch and across batches, before it is timed. */
async function checkIdempotent(client: pg.Client, name: string, method: InsertMethod): Promise<void> {
  const a = benchEvent()
  const b = benchEvent()
  const first = await method(client, [a, a, b])
  const second = await method(client, [a, b])
  if (first !== 2 || second !== 0) throw new Error(`${name}: not idempotent (inserted ${first}, then ${second})`)
}

// ---------------------------------------------------------------- methods mode

async function compareMethods(): Promise<void> {
  const copyFrom = await loadCopyFrom()
  const all: Record<string, InsertMethod | undefined> = {
    values: insertValues,
    unnest: insertUnnest,
    'unnest-prepared': insertUnnestPrepared,
    'unnest-nosearch': async (client, events) => {
      const params = insertParams(events)
      params[params.length - 1] = arrayLiteral(events.map(() => null))
      const result = await client.query({ name: 'bench_nosearch', text: INSERT_UNNEST_SQL, values: params })
      return result.rowCount ?? 0
    },
    json: insertJson('json'),
    jsonb: insertJson('jsonb'),
    copy: copyFrom && insertCopy(copyFrom),
  }
  const methods = args.methods.split(',').filter((name) => all[name] !== undefined)
  const sizes = args.sizes.split(',').map(Number)
  const samples = new Map<string, number[]>()
  await withBenchSchema(async (client) => {
    // The table is append-only (a trigger refuses TRUNCATE); this bench empties it between samples.
    await client.query('ALTER TABLE audit_logs DISABLE TRIGGER USER')
    for (const name of methods) await checkIdempotent(client, name, all[name]!)
    for (let run = 0; run < runs; run++) {
      for (const size of sizes) {
        // Rotate the order each run so drift on a shared machine favours no method.
        const order = methods.map((_, i) => methods[(i + run) % methods.length]!)
        for (const name of order) {
          // Same starting point for every sample: an empty table with all of the store's indexes.
          await client.query('TRUNCATE audit_logs')
          const key = `${name}@${size}`
          samples.set(key, [...(samples.get(key) ?? []), await throughput(client, all[name]!, size)])
        }
        process.stderr.write(`run ${run + 1}/${runs}: batch ${size} done\n`)
      }
    }
  })
  printTable(
    ['batch size', ...methods.map((name) => `${name} ev/s`)],
    sizes.map((size) => [String(size), ...methods.map((name) => median(samples.get(`${name}@${size}`)!).toFixed(0))]),
  )
  const results = Object.fromEntries([...samples].map(([key, list]) => [key, { median: median(list), samples: list }]))
  process.stdout.write('\n' + JSON.stringify({ bench: 'pg-insert-methods', seconds, runs, results }) + '\n')
}

// ---------------------------------------------------------------- --index-cost mode

/** The same skew as benchEvent(), generated server-side: 1M rows take seconds instead of minutes. */
function fillSql(rows: number): string {
  // Filled rows carry search words too (what the store would have written for them, near enough),
  // so the GIN index holds ~1M documents like a real table's.
  return `INSERT INTO audit_logs (${COLUMNS}, search)
  SELECT f.*, to_tsvector('simple', f.action || ' ' || f.actor_id || ' ' || f.resource_type || ' ' || f.resource_id || ' ci read write ' || (f.metadata->>'n'))
  FROM (SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(md5(g::text), 1, 3) || '8'
           || substr(md5(g::text || 'x'), 1, 15))::uuid,
         tenant, ts, ts, 'action.' || floor(200 * power(r3, 3))::int,
         CASE WHEN r4 < 0.02 THEN 'critical' WHEN r4 < 0.10 THEN 'warning' ELSE 'info' END,
         CASE WHEN r2 < 0.05 THEN 'system' ELSE tenant || '-user-' || floor(2000 * power(r2, 2))::int END,
         'user', 'type' || floor(8 * random())::int, 'res-' || floor(50000 * random())::int,
         r6 >= 0.03, CASE WHEN r6 < 0.03 THEN 'denied' END, NULL,
         ('10.' || floor(random() * 255)::int || '.' || floor(random() * 255)::int || '.1')::inet,
         'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36',
         'sess-' || floor(random() * 100000)::int, 'req-' || g, NULL,
         jsonb_build_object('key_name', 'ci', 'permissions', jsonb_build_array('read', 'write'), 'n', g)
  FROM (SELECT g, timestamptz '2026-03-01 00:00:00+00' + g * (interval '90 days' / ${rows}) AS ts,
               'tenant_' || floor(200 * power(random(), 4))::int AS tenant,
               random() AS r2, random() AS r3, random() AS r4, random() AS r6
        FROM generate_series(1, ${rows}) AS g) AS s) AS f(${COLUMNS})`
}

const INDEX_DDL = new Map(
  (POSTGRES_MIGRATIONS[1] ?? [])
    .map((statement) => /^CREATE INDEX (\w+) /.exec(statement))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1]!, match.input]),
)
const CORE_INDEXES = ['audit_logs_occurred_at_idx', 'audit_logs_tenant_idx']
const SELECTIVE_INDEXES = ['audit_logs_actor_idx', 'audit_logs_resource_idx', 'audit_logs_failed_idx']
// Word search's GIN index (migration 50), measured with the rest.
const SEARCH_INDEX_DDL = (POSTGRES_MIGRATIONS[50] ?? []).find((statement) => statement.includes('USING gin'))!
INDEX_DDL.set('audit_logs_search_idx', SEARCH_INDEX_DDL)
/** Indexes, and whether the insert writes the search tsvector (the store's does; the others leave it NULL). */
const INDEX_CONFIGS: Record<string, { indexes: string[]; search: boolean }> = {
  'primary key only': { indexes: [], search: false },
  'pk + time + tenant': { indexes: CORE_INDEXES, search: false },
  '+ actor, resource, failed': { indexes: [...CORE_INDEXES, ...SELECTIVE_INDEXES], search: false },
  'all (migration 1)': { indexes: [...INDEX_DDL.keys()].filter((name) => name !== 'audit_logs_search_idx'), search: false },
  'all + search tsvector written': { indexes: [...INDEX_DDL.keys()].filter((name) => name !== 'audit_logs_search_idx'), search: true },
  'all + tsvector + GIN (the store)': { indexes: [...INDEX_DDL.keys()], search: true },
}

/** The store's prepared unnest insert without the search column: word search's baseline. */
const INSERT_WITHOUT_SEARCH_SQL = INSERT_UNNEST_SQL.replace(', search)', ')').replace(/, \$\d+::tsvector\[\]\)/, ')')
if (INSERT_WITHOUT_SEARCH_SQL.includes('tsvector')) throw new Error('could not derive the insert without the search column')
const insertWithoutSearch: InsertMethod = async (client, events) => {
  const result = await client.query({ name: 'bench_insert_without_search', text: INSERT_WITHOUT_SEARCH_SQL, values: insertParams(events).slice(0, -1) })
  return result.rowCount ?? 0
}

async function useIndexes(client: pg.Client, wanted: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'audit_logs'::regclass AND NOT indisprimary",
  )
  const present = new Set(rows.map((row) => row.name))
  for (const name of present) if (!wanted.includes(name)) await client.query(`DROP INDEX ${name}`)
  for (const name of wanted) if (!present.has(name)) await client.query(INDEX_DDL.get(name)!)
}

async function indexCost(): Promise<void> {
  const batchSize = Number(args['index-batch'])
  const samples = new Map<string, number[]>()
  const sizes = new Map<string, string>()
  await withBenchSchema(async (client) => {
    await useIndexes(client, [])
    process.stderr.write(`filling ${args['fill-rows']} rows…\n`)
    await client.query(fillSql(Number(args['fill-rows'])))
    await client.query('VACUUM ANALYZE audit_logs')
    const configs = Object.keys(INDEX_CONFIGS)
    for (let run = 0; run < runs; run++) {
      for (const config of configs.map((_, i) => configs[(i + run) % configs.length]!)) {
        const { indexes, search } = INDEX_CONFIGS[config]!
        const method = search ? insertUnnestPrepared : insertWithoutSearch
        await useIndexes(client, indexes)
        // Index builds leave dirty pages: flush them so they are not billed to the inserts. The
        // first change to each page after a checkpoint also writes a full-page image to WAL; at
        // these rates the default max_wal_size=1GB forces a checkpoint every minute or so, so a
        // share of those images is steady state. --warmup-seconds excludes the first burst.
        await client.query('CHECKPOINT')
        await throughput(client, method, batchSize, Number(args['warmup-seconds']))
        samples.set(config, [...(samples.get(config) ?? []), await throughput(client, method, batchSize)])
        const { rows } = await client.query<{ size: string }>(
          "SELECT pg_size_pretty(pg_indexes_size('audit_logs')) AS size",
        )
        sizes.set(config, rows[0]!.size)
        // Back to the filled table, so every sample starts from the same ~1M rows.
        // The append-only guard lets only the retention path delete; the bench resets its table as that path does.
        await client.query("SET auditq.retention = 'on'")
        await client.query('DELETE FROM audit_logs WHERE occurred_at >= $1', [new Date(NEW_EVENTS_FROM).toISOString()])
        await client.query('RESET auditq.retention')
        await client.query('VACUUM audit_logs')
        process.stderr.write(`run ${run + 1}/${runs}: ${config} done\n`)
      }
    }
  })
  const baseline = median(samples.get('primary key only')!)
  printTable(
    ['indexes', 'index size', `ev/s at batch ${batchSize}`, 'vs pk only'],
    Object.keys(INDEX_CONFIGS).map((config) => {
      const eps = median(samples.get(config)!)
      return [config, sizes.get(config)!, eps.toFixed(0), `${((eps / baseline - 1) * 100).toFixed(0)}%`]
    }),
  )
  const results = Object.fromEntries([...samples].map(([key, list]) => [key, { median: median(list), samples: list }]))
  process.stdout.write('\n' + JSON.stringify({ bench: 'pg-index-cost', batchSize, seconds, runs, results }) + '\n')
}

await (args['index-cost'] ? indexCost() : compareMethods())
