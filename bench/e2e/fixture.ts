/**
 * What every scenario starts from and ends with: a fresh PostgreSQL schema migrated by the real
 * store (the production table and its seven indexes), Redis keys under a prefix of this run's own,
 * and, at the end, a count of the table's ids against the ids that were logged.
 */
import pg from 'pg'
import { Redis } from 'ioredis'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'

export interface BenchTarget {
  databaseUrl: string
  redisUrl: string
}

export interface Fixture {
  /** Fresh schema holding `audit_logs`; every connection of the scenario uses it. */
  schema: string
  /** Redis key prefix owned by this scenario; everything under it is deleted afterwards. */
  redisPrefix: string
  /** A connection on the schema, for polling and verification (not used by the system under test). */
  observer: pg.Client
  dispose(): Promise<void>
}

export async function openFixture(target: BenchTarget, name: string): Promise<Fixture> {
  const schema = `bench_${name.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${Date.now().toString(36)}`.slice(0, 63)
  const store = await createPostgresStore({ connectionString: target.databaseUrl, schema })
  try {
    await store.migrate()
  } finally {
    await store.close()
  }
  const observer = new pg.Client({ connectionString: target.databaseUrl, options: `-c search_path=${schema}` })
  await observer.connect()
  // Equal footing for every row: autovacuum would wake up on some fresh tables and not others.
  await observer.query('ALTER TABLE audit_logs SET (autovacuum_enabled = false)')
  // Dirty pages of the previous scenario are flushed now, not billed to this one.
  await observer.query('CHECKPOINT')
  const redisPrefix = `auditqbench-${schema}`
  return {
    schema,
    redisPrefix,
    observer,
    async dispose() {
      await observer.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
      await observer.end().catch(() => undefined)
      await deleteKeys(target.redisUrl, `${redisPrefix}*`)
    },
  }
}

/** Deletes only keys matching the bench's own pattern (SCAN, never FLUSHALL: others share this Redis). */
export async function deleteKeys(redisUrl: string, pattern: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return deleted
}

/**
 * auditq records its own start and stop in the access trail, under its system tenant: those rows
 * are not the scenario's events, so neither the progress count nor the verification sees them.
 */
const APPLICATION_ROWS = `FROM audit_logs WHERE tenant_id <> 'auditq'`

export async function countRows(observer: pg.Client): Promise<number> {
  const { rows } = await observer.query<{ n: string }>(`SELECT count(*) AS n ${APPLICATION_ROWS}`)
  return Number(rows[0]!.n)
}

export interface Verification {
  expected: number
  rows: number
  lost: number
  /** Rows whose id was never logged in this scenario. */
  unexpected: number
  /** Rows beyond the first for one request id (the same event stored twice, whatever its id). */
  duplicated: number
}

/** Every logged id must be in the table exactly once, and nothing else may be. */
export async function verify(observer: pg.Client, expectedIds: readonly string[]): Promise<Verification> {
  const { rows } = await observer.query<{ id: string }>(`SELECT id::text AS id ${APPLICATION_ROWS}`)
  const dup = await observer.query<{ n: string }>(`SELECT count(*) - count(DISTINCT request_id) AS n ${APPLICATION_ROWS}`)
  const found = new Set(rows.map((row) => row.id))
  const expected = new Set(expectedIds)
  let lost = 0
  for (const id of expected) if (!found.has(id)) lost++
  let unexpected = 0
  for (const id of found) if (!expected.has(id)) unexpected++
  return { expected: expected.size, rows: rows.length, lost, unexpected, duplicated: Number(dup.rows[0]!.n) }
}

export function verificationProblem(v: Verification): string | undefined {
  if (v.lost === 0 && v.unexpected === 0 && v.duplicated === 0 && v.rows === v.expected) return undefined
  return `expected ${v.expected} rows, found ${v.rows}: ${v.lost} lost, ${v.unexpected} unexpected, ${v.duplicated} duplicated`
}
