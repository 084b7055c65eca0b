/**
 * Migration 4 on a file that has every other step applied and rows in it, written the way a
 * store before the fix wrote them: nothing lost, the chain still verifies, the append-only guard
 * is back, and ids are unique per tenant afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../../test/support/embedded-connection.js'
import { chainHashV1, GENESIS_HASH } from '../../integrity/canonical.js'
import { verifyChains } from '../../integrity/verify.js'
import { migrateAllBut, preUpgradeEvents, withPreFixConflictTarget } from '../../../test/support/migrate-partial.js'
import { storedEvent } from '../../../test/support/events.js'
import type { Store } from '../store.js'
import { UPSERT_HEAD_SQL } from './chain-sql.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from './migrations.js'
import { toRow } from './sql.js'
import { EVENT_FIELDS_V1 } from '../../event/types.js'

const dirs: string[] = []
const stores: Store[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** The inserts of a store at migration 3: the columns before auditq.v2 added any. */
const V1_COLUMNS = EVENT_FIELDS_V1.join(', ')
const V1_VALUES = EVENT_FIELDS_V1.map((field) => `@${field}`).join(', ')
const V1_INSERT_SQL = `INSERT INTO audit_logs (${V1_COLUMNS}) VALUES (${V1_VALUES}) ON CONFLICT (tenant_id, id) DO NOTHING`
const V1_INSERT_CHAINED_SQL = `INSERT INTO audit_logs (${V1_COLUMNS}, seq, prev_hash, hash) VALUES (${V1_VALUES}, @seq, @prev_hash, @hash)
  ON CONFLICT (tenant_id, id) DO NOTHING`

function v1Row(event: ReturnType<typeof storedEvent>): Record<string, unknown> {
  const row = toRow(event) as unknown as Record<string, unknown>
  return Object.fromEntries(EVENT_FIELDS_V1.map((field) => [field, row[field]]))
}

/** Chains and inserts as the store did before migration 4 (conflict on id alone). */
function insertBeforeFix(file: string, chained: readonly ReturnType<typeof storedEvent>[], unchained: ReturnType<typeof storedEvent>): void {
  const db = openEmbeddedConnection(file)
  try {
    db.transaction(() => {
      db.prepare(withPreFixConflictTarget(V1_INSERT_SQL)).run(v1Row(unchained))
      const insert = db.prepare(withPreFixConflictTarget(V1_INSERT_CHAINED_SQL))
      const heads = new Map<string, { seq: number; hash: string }>()
      for (const event of chained) {
        const head = heads.get(event.tenant_id) ?? { seq: 0, hash: GENESIS_HASH }
        const hash = chainHashV1(head.hash, event)
        insert.run({ ...v1Row(event), seq: head.seq + 1, prev_hash: head.hash, hash })
        heads.set(event.tenant_id, { seq: head.seq + 1, hash })
      }
      for (const [tenant, head] of heads) db.prepare(UPSERT_HEAD_SQL).run(tenant, head.seq, head.hash)
    })()
  } finally {
    db.close()
  }
}

function schemaOf(file: string): string[] {
  const db = openEmbeddedConnection(file, { readonly: true })
  try {
    return db
      .prepare<[], { type: string; name: string }>(
        "SELECT type, name FROM sqlite_master WHERE tbl_name = 'audit_logs' ORDER BY type, name",
      )
      .all()
      .map((row) => `${row.type} ${row.name}`)
  } finally {
    db.close()
  }
}

describe('embedded migration 4 (ids unique per tenant)', () => {
  it('rebuilds a populated table keeping every row, the chain, the indexes and the append-only guard', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-v4-'))
    dirs.push(dataDir)
    const file = path.join(dataDir, EMBEDDED_DB_FILE)
    // A database from before migration 4 has none of the later steps either (word search's FTS table among them).
    await migrateAllBut(embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 })), EMBEDDED_MIGRATIONS, [4, 6, 7, 30, 31, 46, 50, 87, 88, 92])
    const events = preUpgradeEvents()
    // One row from before hash chaining (seq NULL): it must be copied too, and stay outside the chain.
    const unchained = storedEvent({ tenant_id: 'acme', action: 'before.chaining' })
    insertBeforeFix(file, events, unchained)
    const before = schemaOf(file)

    const store = await createEmbeddedStore({ dataDir })
    stores.push(store)
    expect((await store.migrate()).applied).toEqual(['4_tenant_scoped_ids', '6_chain_format_2', '7_chain_links', '30_event_fields_v2', '31_producer_sequence_index', '46_subject_index_lookup', '50_word_search', '87_search_fill_only_guard', '88_search_backfill_position', '92_producer_runs'])

    for (const tenant of ['acme', 'globex', 'initech']) {
      const expected = [...events.filter((e) => e.tenant_id === tenant), ...(tenant === 'acme' ? [unchained] : [])]
      const stored = (await store.query({ tenant_id: tenant }, { limit: 100 })).events
      expect(new Map(stored.map((e) => [e.id, e]))).toEqual(new Map(expected.map((e) => [e.id, e])))
    }
    const report = await verifyChains(store.kind, store.integrity!)
    // The chained rows all verify; the row from before chaining was copied too, and verify names it
    // (no event may sit outside the chain unseen).
    expect(report).toMatchObject({ intact: false, first_break: { tenant_id: 'acme', problem: 'inserted', detail: expect.stringContaining('no chain position') } })
    for (const tenant of ['globex', 'initech']) {
      const own = await verifyChains(store.kind, store.integrity!, { tenant_id: tenant })
      expect(own, tenant).toMatchObject({ intact: true, events: events.filter((e) => e.tenant_id === tenant).length })
    }

    // Same objects as before, plus the id index the open-mode lookup needs, the subject index of 46 (migration 92 drops the producer indexes of 30 and 31 for its runs table)
    // (and word search's FTS table with its delete trigger, made after the rebuild).
    const search = schemaOf(file).filter((name) => name.includes('audit_logs_fts'))
    expect(search).toEqual(['trigger audit_logs_fts_delete'])
    expect(schemaOf(file).filter((name) => !search.includes(name))).toEqual([...before, 'index audit_logs_id_idx', 'index audit_logs_subject_idx'].sort())
    expect(before).toEqual(expect.arrayContaining(['trigger audit_logs_no_update', 'trigger audit_logs_no_delete']))
    const plain = openEmbeddedConnection(file, { timeoutMs: 5_000 })
    try {
      expect(() => plain.exec("UPDATE audit_logs SET action = 'forged'")).toThrow(/append-only; UPDATE refused/)
      expect(() => plain.exec('DELETE FROM audit_logs')).toThrow(/DELETE refused outside retention/)
    } finally {
      plain.close()
    }

    // And the point of it: an id another tenant holds is stored, a repeat within a tenant is not.
    const reused = storedEvent({ id: events[0]!.id, tenant_id: 'globex' })
    expect(events[0]!.tenant_id).toBe('acme')
    expect(await store.insertBatch([reused, events[0]!])).toEqual({ inserted: 1, duplicates: 1 })
    expect(await store.getById(reused.id, { tenant_id: 'globex' })).toEqual(reused)
    expect((await verifyChains(store.kind, store.integrity!, { tenant_id: 'globex' })).intact).toBe(true)
  })
})
