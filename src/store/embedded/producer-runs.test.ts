/**
 * Producer runs in the embedded store: the insert transaction records the runs of consecutive
 * producer numbers it stored, duplicates add nothing false, compaction merges runs into islands,
 * and migration 92 derives the runs of events stored before it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../../test/support/embedded-connection.js'
import { storedEvent } from '../../../test/support/events.js'
import { migrateAllBut } from '../../../test/support/migrate-partial.js'
import type { AuditEvent } from '../../event/types.js'
import { createLogger } from '../../util/logger.js'
import type { Store } from '../store.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from './migrations.js'
import { compactRuns } from './producer-runs.js'
import { INSERT_SQL, toRow } from './sql.js'

const numbered = (producer: string, seqs: readonly number[], tenant = 'acme'): AuditEvent[] =>
  seqs.map((seq) => storedEvent({ tenant_id: tenant, producer_id: producer, producer_seq: seq }))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('embedded producer runs', () => {
  const dirs: string[] = []
  const stores: Store[] = []
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  async function open(options: { chain?: boolean } = {}): Promise<{ store: Store; file: string }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-runs-'))
    dirs.push(dataDir)
    const store = await createEmbeddedStore({ dataDir, ...options })
    stores.push(store)
    await store.migrate()
    return { store, file: join(dataDir, EMBEDDED_DB_FILE) }
  }

  const runs = (file: string) => {
    const db = openEmbeddedConnection(file, { readonly: true })
    try {
      return db
        .prepare<[], { tenant_id: string | null; producer_id: string; first_seq: number; last_seq: number }>(
          'SELECT tenant_id, producer_id, first_seq, last_seq FROM audit_producer_runs ORDER BY producer_id, first_seq, last_seq',
        )
        .all()
        .map((row) => `${row.producer_id}@${row.tenant_id ?? '*'}:${row.first_seq}-${row.last_seq}`)
    } finally {
      db.close()
    }
  }

  for (const chain of [true, false]) {
    it(`${chain ? 'a chained' : 'an unchained'} insert records one run per producer and stretch of consecutive numbers, across tenants; a duplicate records nothing`, async () => {
      const { store, file } = await open({ chain })
      const batch = [...numbered('p1', [1, 2, 3, 7, 8]), ...numbered('p1', [4], 'globex'), storedEvent(), ...range(1, 40).map((seq) => storedEvent({ tenant_id: `t${seq % 8}`, producer_id: 'app', producer_seq: seq }))]
      await store.insertBatch(batch)
      // The first event again (a redelivery) with a number that was never stored: not stored, not recorded.
      expect(await store.insertBatch([{ ...batch[0]!, producer_seq: 20 }])).toMatchObject({ inserted: 0, duplicates: 1 })
      // p1's 1-3 in acme and 4 in globex are one run of several tenants (*); so are app's 40 numbers dealt over eight tenants.
      expect(runs(file)).toEqual(['app@*:1-40', 'p1@*:1-4', 'p1@acme:7-8'])
    })
  }

  it('compaction merges runs into islands; a check naming a tenant sees the producers wholly in it', async () => {
    const { store, file } = await open()
    const seqs = range(1, 120).filter((seq) => seq < 50 || seq > 52)
    for (let i = 0; i < seqs.length; i += 9) await store.insertBatch(numbered('p2', seqs.slice(i, i + 9)))
    await store.insertBatch(numbered('p3', [1, 2]))
    await store.insertBatch(numbered('p3', [3], 'globex'))
    expect(runs(file).length).toBeGreaterThan(10)
    const db = openEmbeddedConnection(file, { timeoutMs: 5_000 })
    try {
      compactRuns(db)
    } finally {
      db.close()
    }
    expect(runs(file)).toEqual(['p2@acme:1-49', 'p2@acme:53-120', 'p3@*:1-3'])
    const islands = async (tenant?: string) =>
      (await store.completeness!.producerIslands(tenant ? { tenant_id: tenant } : {})).map((i) => `${i.producer_id}:${i.first}-${i.last}`)
    expect(await islands()).toEqual(['p2:1-49', 'p2:53-120', 'p3:1-3'])
    expect(await islands('acme')).toEqual(['p2:1-49', 'p2:53-120'])
    expect(await islands('globex')).toEqual([])
  })

  it('a compaction that cannot take the write lock is logged at warning, and the check still reads exact islands', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-runs-busy-'))
    dirs.push(dataDir)
    const lines: string[] = []
    const logger = createLogger({ level: 'info', format: 'json', destination: { write: (line: string) => void lines.push(line) } })
    const store = await createEmbeddedStore({ dataDir, busyTimeoutMs: 50, logger })
    stores.push(store)
    await store.migrate()
    await store.insertBatch(numbered('p9', [1, 2]))
    await store.insertBatch(numbered('p9', [3, 5]))
    // Another process holds the write lock.
    const other = openEmbeddedConnection(join(dataDir, EMBEDDED_DB_FILE), { timeoutMs: 5_000 })
    try {
      other.exec('BEGIN IMMEDIATE')
      const islands = await store.completeness!.producerIslands({})
      expect(islands.map((island) => [island.first, island.last])).toEqual([[1, 3], [5, 5]])
      other.exec('ROLLBACK')
    } finally {
      other.close()
    }
    const warned = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((entry) => entry.msg.startsWith('producer runs not compacted'))
    expect(warned).toHaveLength(1)
    expect(warned[0]!.level).toBe(40)
  })

  it('migration 92 derives the runs of every event stored before it and drops the per-event producer indexes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-runs91-'))
    dirs.push(dataDir)
    const file = join(dataDir, EMBEDDED_DB_FILE)
    const target = embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 }))
    await migrateAllBut(target, EMBEDDED_MIGRATIONS, [92])
    // Rows as a store before migration 92 wrote them (this version's insert also writes runs).
    const old = openEmbeddedConnection(file, { timeoutMs: 5_000 })
    try {
      const insert = old.prepare(INSERT_SQL)
      for (const event of numbered('old', [1, 2, 3, 5, 6, 4, 4, 9])) insert.run(toRow(event))
    } finally {
      old.close()
    }
    await target.withLock(() => target.apply(92, 'producer_runs', EMBEDDED_MIGRATIONS[92]!))
    expect(runs(file)).toEqual(['old@acme:1-6', 'old@acme:9-9'])
    const db = openEmbeddedConnection(file, { readonly: true })
    try {
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'audit_logs_producer%'").all()).toEqual([])
    } finally {
      db.close()
    }
  })
})
