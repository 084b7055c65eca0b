/**
 * D1 batch insert: one `json_each` statement per chunk (what D1EventWriter does) against
 * multi-row `INSERT … VALUES` of 5 rows per statement (19 columns × 5 = 95 of D1's 100 bound
 * parameters), all statements of a batch in one `db.batch` either way. Local D1 in workerd via
 * Miniflare, driven from Node through Miniflare's D1 proxy (one round trip per `db.batch` for both
 * methods), so it compares the SQL work and the statement count, not Cloudflare's network.
 *
 *   npm run bench:d1-insert
 */
import { Miniflare } from 'miniflare'
import type { D1Database } from '../src/cloudflare/bindings.js'
import { D1_MIGRATIONS } from '../src/cloudflare/d1/schema.js'
import { D1EventWriter } from '../src/cloudflare/d1/writer.js'
import { EVENT_FIELDS, type AuditEvent } from '../src/event/types.js'
import { toRow } from '../src/store/embedded/sql.js'
import { storedEvent } from '../test/support/events.js'

const ROWS_PER_VALUES_STATEMENT = Math.floor(100 / EVENT_FIELDS.length)
const BATCH_SIZES = [1, 10, 100, 500]
const RUNS = 5
const SAMPLE_MS = 1500

function valuesStatements(db: D1Database, events: readonly AuditEvent[]) {
  const statements = []
  for (let i = 0; i < events.length; i += ROWS_PER_VALUES_STATEMENT) {
    const chunk = events.slice(i, i + ROWS_PER_VALUES_STATEMENT)
    const placeholders = chunk.map(() => `(${EVENT_FIELDS.map(() => '?').join(', ')})`).join(', ')
    const values = chunk.flatMap((event) => {
      const row = toRow(event) as unknown as Record<string, unknown>
      return EVENT_FIELDS.map((field) => row[field])
    })
    statements.push(db.prepare(`INSERT INTO audit_logs (${EVENT_FIELDS.join(', ')}) VALUES ${placeholders} ON CONFLICT (id) DO NOTHING`).bind(...values))
  }
  return statements
}

const METHODS: Record<string, (db: D1Database, events: AuditEvent[]) => Promise<unknown>> = {
  json_each: (db, events) => new D1EventWriter(db).insertBatch(events),
  values_5_rows: (db, events) => db.batch(valuesStatements(db, events)),
}

function typicalEvent(): AuditEvent {
  return storedEvent({ ip_address: '203.0.113.42', user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0', metadata: { key_name: 'ci-deploy', permissions: ['read', 'write'] } })
}

async function sample(db: D1Database, method: string, batchSize: number): Promise<number> {
  await db.prepare('DELETE FROM audit_logs').run()
  let events = 0
  const start = performance.now()
  while (performance.now() - start < SAMPLE_MS) {
    await METHODS[method]!(db, Array.from({ length: batchSize }, typicalEvent))
    events += batchSize
  }
  return events / ((performance.now() - start) / 1000)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

async function main() {
  const mf = new Miniflare({ modules: true, script: 'export default { fetch() { return new Response() } }', compatibilityDate: '2025-09-01', d1Databases: { DB: 'bench' } })
  const db = (await mf.getD1Database('DB')) as unknown as D1Database
  for (const migration of D1_MIGRATIONS) await db.batch(migration.statements.map((s) => db.prepare(s)))
  console.log(`events/s, median of ${RUNS} samples of ${SAMPLE_MS} ms (method order rotated per run)`)
  for (const batchSize of BATCH_SIZES) {
    const results: Record<string, number[]> = Object.fromEntries(Object.keys(METHODS).map((m) => [m, []]))
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? Object.keys(METHODS) : Object.keys(METHODS).reverse()
      for (const method of order) results[method]!.push(await sample(db, method, batchSize))
    }
    const statements = { json_each: 1, values_5_rows: Math.ceil(batchSize / ROWS_PER_VALUES_STATEMENT) }
    console.log(
      `batch ${String(batchSize).padStart(3)}: ` +
        Object.entries(results)
          .map(([method, values]) => `${method} ${Math.round(median(values))} (${statements[method as keyof typeof statements]} stmt)`)
          .join(' | '),
    )
  }
  await mf.dispose()
}

await main()
