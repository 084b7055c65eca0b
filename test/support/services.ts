import pg from 'pg'
import { noteSkipped, withoutPassword } from './skip-notice.js'
import { PARTITION_INTERVALS, type PartitioningSettings, type PartitionInterval } from '../../src/store/postgres/partition-layout.js'

export const POSTGRES_URL = process.env.AUDITQ_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.AUDITQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Server-backed suites call this in beforeAll. Locally, a missing server skips the suite, and the
 * run ends with a line saying so (skip-notice.ts); with CI=true it fails, so CI can never go green
 * by skipping what it was meant to prove.
 */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch (error) {
    if (process.env.CI === 'true') {
      throw new Error(`PostgreSQL is required in CI but unreachable at ${POSTGRES_URL}: ${(error as Error).message}`)
    }
    noteSkipped('postgres', `unreachable at ${withoutPassword(POSTGRES_URL)}: ${(error as Error).message}`)
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A throwaway schema name per test file so parallel files never see each other's rows. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
}

/** Drops test schemas (after a suite) on a connection of its own, which is closed whatever happens. */
export async function dropSchemas(schemas: Iterable<string>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

/**
 * `AUDITQ_TEST_PG_PARTITION=day|week|month` runs the PostgreSQL suites that use this against the
 * time-partitioned layout: ranges from 2026-05-01 (fixture events sit around 2026-06-01), so rows
 * land in ranges, and older ones in the default partition. Unset: the unpartitioned table.
 */
export function testPartitioning(): { partitioning?: PartitioningSettings } {
  const interval = process.env.AUDITQ_TEST_PG_PARTITION
  if (!interval) return {}
  if (!(PARTITION_INTERVALS as readonly string[]).includes(interval)) throw new Error(`AUDITQ_TEST_PG_PARTITION: one of ${PARTITION_INTERVALS.join(', ')}; got ${interval}`)
  return { partitioning: { interval: interval as PartitionInterval, ahead: 1, since: Date.parse('2026-05-01T00:00:00Z') } }
}
