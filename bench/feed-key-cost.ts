/**
 * What the feed's commit-order key (migration 35) costs PostgreSQL inserts: the store's own
 * chained insert into two schemas in one run, alternating rounds, one with the key and its index,
 * one with migration 7's link function restored and the index dropped (the baseline). The key is
 * written once per tenant per batch (one link row), so the worst case is one event per batch.
 *
 *   npm run bench:feed-key
 * Options: --database-url URL --sizes 1,100,500 --runs 5 --seconds 2 --tenants 4
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import type { AuditEvent } from '../src/event/types.js'
import { CHAIN_LINKS_MIGRATION } from '../src/store/postgres/chain-links-sql.js'
import { createPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.js'
import { median, printTable } from './stats.js'

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    sizes: { type: 'string', default: '1,100,500' },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '2' },
    tenants: { type: 'string', default: '4' },
  },
})
const databaseUrl = args['database-url']!
const runs = Number(args.runs)
const seconds = Number(args.seconds)
const tenants = Number(args.tenants)

function event(i: number): AuditEvent {
  const now = new Date().toISOString()
  return {
    id: uuidv7(), tenant_id: `t${i % tenants}`, occurred_at: now, received_at: now, action: 'document.read', category: 'info',
    actor_id: `u${i % 1000}`, actor_type: 'user', resource_type: 'document', resource_id: `d${i}`, success: true,
    error_message: null, description: null, ip_address: '192.0.2.1', user_agent: null, session_id: null, request_id: null,
    client_id: null, metadata: { n: i },
  }
}

/** Events per second inserting batches of `size` for `seconds`, one batch at a time (group commit's pattern). */
async function rate(store: PostgresStore, size: number): Promise<number> {
  let inserted = 0
  let i = 0
  const start = performance.now()
  while (performance.now() - start < seconds * 1000) {
    const batch = Array.from({ length: size }, () => event(i++))
    inserted += (await store.insertBatch(batch)).inserted
  }
  return inserted / ((performance.now() - start) / 1000)
}

const suffix = `${process.pid}_${Date.now().toString(36)}`
const schemas = { feed: `bench_feedkey_${suffix}`, baseline: `bench_nofeedkey_${suffix}` }
const withKey = await createPostgresStore({ connectionString: databaseUrl, schema: schemas.feed })
const baseline = await createPostgresStore({ connectionString: databaseUrl, schema: schemas.baseline })
const admin = new pg.Client({ connectionString: databaseUrl })
await admin.connect()
try {
  await withKey.migrate()
  await baseline.migrate()
  // The baseline: migration 7's function again (same signature), the column defaulted, no index.
  const v7Function = CHAIN_LINKS_MIGRATION.find((statement) => statement.includes('FUNCTION auditq_chain_v3'))!
  await admin.query(`SET search_path = ${schemas.baseline}`)
  await admin.query(v7Function.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'))
  await admin.query('ALTER TABLE audit_chain_links ALTER COLUMN feed_key SET DEFAULT 0')
  await admin.query('DROP INDEX audit_chain_links_feed_idx')

  const rows: string[][] = []
  for (const size of args.sizes!.split(',').map(Number)) {
    const samples = { feed: [] as number[], baseline: [] as number[] }
    await rate(withKey, size) // warm both: connections, prepared statements, caches
    await rate(baseline, size)
    for (let run = 0; run < runs; run++) {
      // Alternate which goes first, so drift on a shared machine falls on both.
      const order = run % 2 === 0 ? (['feed', 'baseline'] as const) : (['baseline', 'feed'] as const)
      for (const which of order) samples[which].push(await rate(which === 'feed' ? withKey : baseline, size))
    }
    const feed = median(samples.feed)
    const base = median(samples.baseline)
    rows.push([String(size), base.toFixed(0), feed.toFixed(0), `${(((feed - base) / base) * 100).toFixed(1)} %`])
  }
  printTable(['batch', 'baseline ev/s', 'with feed key ev/s', 'change'], rows)
  console.log(`medians of ${runs} alternating ${seconds} s runs, ${tenants} tenants per batch pattern`)
} finally {
  await withKey.close()
  await baseline.close()
  for (const schema of Object.values(schemas)) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await admin.end()
}
