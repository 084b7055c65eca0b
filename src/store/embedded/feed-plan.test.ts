/** An embedded feed page is an index range scan: SQLite's own plan, read with EXPLAIN QUERY PLAN. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../../test/support/embedded-connection.js'
import { storedEvent } from '../../../test/support/events.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded-store.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from './feed.js'
import type { SqliteDatabase } from './sqlite-driver.js'

describe('embedded feed plans', () => {
  let dir: string
  let db: SqliteDatabase
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'auditq-feed-plan-'))
    const store = await createEmbeddedStore({ dataDir: dir })
    await store.migrate()
    for (let batch = 0; batch < 50; batch++) await store.insertBatch(Array.from({ length: 10 }, (_, i) => storedEvent({ tenant_id: `t${(batch + i) % 4}` })))
    await store.close()
    db = openEmbeddedConnection(path.join(dir, EMBEDDED_DB_FILE))
    db.exec('ANALYZE')
  })
  afterAll(async () => {
    db.close()
    await rm(dir, { recursive: true, force: true })
  })

  const planOf = (sql: string, ...params: unknown[]) =>
    db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail)

  it('walks audit_feed by its key and each row\'s events by the chain index', () => {
    const details = planOf(ALL_FEED_SQL, { key: 10, seq: 3, limit: 100 })
    expect(details.some((d) => /SEARCH audit_feed USING INTEGER PRIMARY KEY/.test(d))).toBe(true)
    expect(details.some((d) => /SEARCH a USING INDEX audit_logs_chain_idx/.test(d))).toBe(true)
    expect(details.filter((d) => /^SCAN (audit_logs|a)\b/.test(d))).toEqual([])
  })

  it("reads a tenant's page by the chain index", () => {
    const details = planOf(TENANT_FEED_SQL, 't1', 5, 100)
    expect(details.some((d) => /SEARCH a USING INDEX audit_logs_chain_idx/.test(d))).toBe(true)
  })
})
