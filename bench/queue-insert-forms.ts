/**
 * What the queue worker's insert costs per event in Node and in PostgreSQL, by the form the batch
 * travels in, starting from what a queue entry holds (docs/decisions.md, "The queue moves bytes"):
 *   unnest     — the entry is the event's JSON: JSON.parse, then one array literal per column and
 *                one of search documents (the worker before this change; the search documents
 *                computed in the worker too)
 *   recordset  — the entry is the event's JSON with its search document as one more key: the
 *                worker joins the entries into one JSON array, jsonb_to_recordset splits it
 *   canonical  — the entry is the canonical form (auditq.v2 array) with its digest and search
 *                document: the worker checks the digest and joins; PostgreSQL splits by position
 *   copy       — the entry is a COPY text line: joined, COPY into a temp staging table, then
 *                INSERT … SELECT (three round trips)
 * Unchained (the insert form alone), then chained as the store writes (unnest vs canonical, with
 * the digests and the chain function). Node CPU is process.cpuUsage around building and sending;
 * PostgreSQL's is the backend's utime + stime from /proc (same machine, clock ticks).
 *
 *   npm run bench:queue-insert -- --batch 500 --batches 40 --runs 3
 */
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { v7 as uuidv7 } from 'uuid'
import { EVENT_FIELDS, noAddedFields, type AuditEvent } from '../src/event/types.js'
import { prepareEvent, type PreparedEvent } from '../src/integrity/prepared-event.js'
import { decodeEvent, encodeEvent, decodeEntry } from '../src/queue/redis-streams/codec.js'
import { CHAINED_FORMS, insertChained } from '../src/store/postgres/chained-insert.js'
import { insertCanonicalUnchainedSql } from '../src/store/postgres/canonical-insert-sql.js'
import { ChainHeadCache } from '../src/store/postgres/head-cache.js'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { COLUMN_TYPES, INSERT_COLUMNS, INSERT_UNNEST_SQL, insertParams } from '../src/store/postgres/sql.js'
import { CURRENT_CANONICAL_VERSION } from '../src/integrity/canonical-version.js'
import { median, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    batch: { type: 'string', default: '500' },
    batches: { type: 'string', default: '40' },
    runs: { type: 'string', default: '3' },
  },
})
const BATCH = Number(args.batch)
const BATCHES = Number(args.batches)
const RUNS = Number(args.runs)
const TICK_US = 1e6 / 100 // USER_HZ: clock ticks of /proc/<pid>/stat

let sequence = 0
function typicalEvent(): AuditEvent {
  const tenant = `tenant_${Math.floor(20 * Math.random() ** 4)}`
  const at = new Date(Date.parse('2026-06-01T00:00:00.000Z') + 7 * sequence++).toISOString()
  return {
    id: uuidv7(),
    tenant_id: tenant,
    occurred_at: at,
    received_at: at,
    action: `user.action_${sequence % 50}`,
    category: 'info',
    actor_id: `${tenant}-user-${sequence % 997}`,
    actor_type: 'user',
    resource_type: 'document',
    resource_id: `doc-${sequence % 5000}`,
    success: true,
    error_message: null,
    description: 'Updated the sharing settings',
    ip_address: '203.0.113.7',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36',
    session_id: `sess-${sequence % 2000}`,
    request_id: `req-${sequence}`,
    client_id: null,
    metadata: { changed: ['email', 'name'], plan: 'pro', previous: { email: `old-${sequence}@example.com` } },
    ...noAddedFields(),
    producer_id: 'bench-producer',
    producer_seq: sequence,
  }
}

/** COPY's text format: tab-separated, `\N` for NULL, backslash escapes. */
function copyLine(event: AuditEvent, search: string): string {
  const field = (value: unknown): string => {
    if (value === null || value === undefined) return '\\N'
    const text = typeof value === 'string' ? value : typeof value === 'boolean' ? (value ? 't' : 'f') : JSON.stringify(value)
    return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
  }
  return `${EVENT_FIELDS.map((name) => field(event[name])).join('\t')}\t${search}\t${CURRENT_CANONICAL_VERSION}\n`
}

/** A queue entry as each form's producer would have written it. */
interface Entries {
  json: string[]
  withSearch: string[]
  prepared: string[]
  copy: string[]
}

function entries(): Entries {
  const out: Entries = { json: [], withSearch: [], prepared: [], copy: [] }
  for (let i = 0; i < BATCH; i++) {
    const event = typicalEvent()
    const prepared = prepareEvent(event)
    out.json.push(JSON.stringify(event))
    out.withSearch.push(JSON.stringify({ ...event, search: prepared.search }))
    out.prepared.push(encodeEvent(event))
    out.copy.push(copyLine(event, prepared.search))
  }
  return out
}

type Method = (client: pg.Client, pool: pg.Pool | undefined, batch: Entries) => Promise<void>

const RECORD = EVENT_FIELDS.map((field) => `${field} ${COLUMN_TYPES[field]}`).join(', ')
const RECORDSET_SQL = `INSERT INTO audit_logs (${INSERT_COLUMNS})
  SELECT ${EVENT_FIELDS.map((f) => `x.${f}`).join(', ')}, x.search::tsvector, ${CURRENT_CANONICAL_VERSION}::smallint
  FROM jsonb_to_recordset($1::jsonb) AS x(${RECORD}, search text) ON CONFLICT (tenant_id, id) DO NOTHING`

function preparedOf(batch: Entries): PreparedEvent[] {
  return batch.prepared.map((payload) => {
    const decoded = decodeEntry(payload)
    if (decoded.kind !== 'prepared') throw new Error('bench: expected a prepared entry')
    return decoded.prepared
  })
}

const unchained: Record<string, Method> = {
  unnest: async (client, _pool, batch) => {
    const events = batch.json.map((payload) => decodeEvent(payload)!)
    await client.query({ name: 'b_unnest', text: INSERT_UNNEST_SQL, values: insertParams(events) })
  },
  recordset: async (client, _pool, batch) => {
    await client.query({ name: 'b_recordset', text: RECORDSET_SQL, values: [`[${batch.withSearch.join(',')}]`] })
  },
  canonical: async (client, _pool, batch) => {
    const prepared = preparedOf(batch)
    let canonical = '['
    let search = '{'
    prepared.forEach((event, i) => {
      canonical += (i === 0 ? '' : ',') + event.canonical
      search += `${i === 0 ? '' : ','}"${event.search}"`
    })
    await client.query({ name: 'b_canonical', text: insertCanonicalUnchainedSql('ON CONFLICT (tenant_id, id) DO NOTHING'), values: [canonical + ']', search + '}'] })
  },
  copy: async (client, _pool, batch) => {
    await client.query('BEGIN; CREATE TEMP TABLE IF NOT EXISTS b_staging (LIKE audit_logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS')
    await pipeline(Readable.from([batch.copy.join('')]), client.query(copyFrom(`COPY b_staging (${INSERT_COLUMNS}) FROM STDIN`)))
    await client.query(`INSERT INTO audit_logs (${INSERT_COLUMNS}) SELECT ${INSERT_COLUMNS} FROM b_staging ON CONFLICT (tenant_id, id) DO NOTHING; COMMIT`)
  },
}

const heads = new ChainHeadCache()
const chained: Record<string, Method> = {
  'chained unnest': async (_client, pool, batch) => {
    const events = batch.json.map((payload) => decodeEvent(payload)!)
    await insertChained(pool!, events, heads, CHAINED_FORMS.events)
  },
  'chained canonical': async (_client, pool, batch) => {
    await insertChained(pool!, preparedOf(batch), heads, CHAINED_FORMS.prepared)
  },
}

function backendTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(fields[11]) + Number(fields[12])
}

async function main(): Promise<void> {
  const schema = `bench_qif_${process.pid}`
  const url = args['database-url']
  const store = await createPostgresStore({ connectionString: url, schema })
  await store.migrate()
  const options = `-c search_path=${schema} -c TimeZone=UTC`
  const client = new pg.Client({ connectionString: url, options })
  await client.connect()
  const pool = new pg.Pool({ connectionString: url, options, max: 1, idleTimeoutMillis: 0 })
  const poolPid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  const clientPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  const samples = new Map<string, { node: number[]; pg: number[] }>()
  const all = { ...unchained, ...chained }
  const names = Object.keys(all)
  try {
    for (const name of names) await all[name]!(client, pool, entries()) // warm-up: prepare statements, JIT
    for (let run = 0; run < RUNS; run++) {
      for (const name of names.map((_, i) => names[(i + run) % names.length]!)) {
        const batches = Array.from({ length: BATCHES }, entries)
        const pid = name.startsWith('chained') ? poolPid : clientPid
        const ticks0 = backendTicks(pid)
        const cpu0 = process.cpuUsage()
        for (const batch of batches) await all[name]!(client, pool, batch)
        const cpu = process.cpuUsage(cpu0)
        const ticks = backendTicks(pid) - ticks0
        const events = BATCH * BATCHES
        const sample = samples.get(name) ?? { node: [], pg: [] }
        sample.node.push((cpu.user + cpu.system) / events)
        sample.pg.push((ticks * TICK_US) / events)
        samples.set(name, sample)
      }
      process.stderr.write(`run ${run + 1}/${RUNS} done\n`)
    }
  } finally {
    await pool.end()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
    await store.close()
  }
  printTable(
    ['form', 'Node µs/event', 'PostgreSQL µs/event', 'total'],
    names.map((name) => {
      const s = samples.get(name)!
      return [name, median(s.node).toFixed(1), median(s.pg).toFixed(1), (median(s.node) + median(s.pg)).toFixed(1)]
    }),
  )
  process.stdout.write(`\n${JSON.stringify({ bench: 'queue-insert-forms', batch: BATCH, batches: BATCHES, runs: RUNS, samples: Object.fromEntries(samples) })}\n`)
}

await main()
