/**
 * Producer sequences end to end, in both stores: an SDK producer numbers its events, refusals are
 * recorded so they are not gaps, the final head record on close() covers the tail, and loss
 * injected on the way in (a store that acknowledges batches it silently thinned) is named
 * exactly — in flight while young, missing once older than the bound. Rows deleted after they
 * were stored are not loss on the way in: completeness keeps them stored (verify names them).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { lossyStore } from '../../test/support/lossy-store.js'
import { POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../test/support/services.js'
import { checkCompleteness } from '../completeness/check.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../store/embedded/embedded-store.js'
import { createPostgresStore } from '../store/postgres/postgres-store.js'
import type { Store } from '../store/store.js'
import { createLogger } from '../util/logger.js'
import { createAuditLogger } from './audit-logger.js'

const hasPostgres = await postgresAvailable()
const silent = createLogger({ level: 'silent' })

interface Harness {
  store: Store
  /** Deletes events behind the append-only guard, as someone with database access could. */
  deleteWhere(condition: string): Promise<void>
  dispose(): Promise<void>
}

async function embedded(): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-producer-'))
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  return {
    store,
    deleteWhere: async (condition) => {
      const db = openEmbeddedConnection(join(dataDir, EMBEDDED_DB_FILE), { timeoutMs: 5_000 })
      try {
        for (const { name } of db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()) db.exec(`DROP TRIGGER "${name}"`)
        db.exec(`DELETE FROM audit_logs WHERE ${condition}`)
      } finally {
        db.close()
      }
    },
    dispose: async () => {
      await store.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function postgres(): Promise<Harness> {
  const schema = uniqueSchema('prod')
  const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
  await store.migrate()
  const run = async (statements: string[]) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
    await client.connect()
    try {
      for (const statement of statements) await client.query(statement)
    } finally {
      await client.end()
    }
  }
  return {
    store,
    deleteWhere: (condition) => run(['SET session_replication_role = replica', `DELETE FROM audit_logs WHERE ${condition}`]),
    dispose: async () => {
      await store.close()
      await run([`DROP SCHEMA IF EXISTS "${schema}" CASCADE`])
    },
  }
}

const BOUND = 15 * 60_000
const later = () => new Date(Date.now() + 2 * BOUND)

for (const [kind, open] of [['embedded', embedded], ['postgres', postgres]] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`${kind}: producer sequences and completeness`, () => {
    const opened: Harness[] = []
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((h) => h.dispose()))
    })
    async function fresh(): Promise<Harness> {
      const harness = await open()
      opened.push(harness)
      return harness
    }

    it('numbers 1, 2, 3 …; refusals and the final head account for every number, so nothing is missing', async () => {
      const { store } = await fresh()
      const audit = await createAuditLogger({ store, logger: silent, producer: { id: 'app-1' } })
      for (let i = 0; i < 10; i++) await audit.log({ action: 'doc.view', resource_id: `d${i}` })
      await expect(audit.log({ action: 'bad action!' })).rejects.toMatchObject({ code: 'AUDITQ_VALIDATION' })
      const bulk = await audit.logBulk([{ action: 'a.one' }, { actor_id: 'x'.repeat(300), action: 'a.two' }, { action: 'a.three' }])
      expect(bulk.rejected.map((r) => r.index)).toEqual([1])
      // An HTTP client's own numbering: stored as sent; its refused number is recorded too.
      await audit.logBulk([
        { action: 'c.one', producer_id: 'client-x', producer_seq: 1 },
        { action: 'c.two', producer_id: 'client-x', producer_seq: 2, category: 'urgent' },
        { action: 'c.three', producer_id: 'client-x', producer_seq: 3 },
      ])
      await audit.close()

      const stored = (await store.query({ action: 'doc.view' }, { limit: 100 })).events
      expect(stored.map((e) => e.producer_seq).sort((a, b) => a! - b!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(new Set(stored.map((e) => e.producer_id))).toEqual(new Set(['app-1']))

      const report = await checkCompleteness(store.completeness!, {}, { now: later(), inFlightBoundMs: BOUND })
      expect(report.missing_events).toBe(0)
      expect(report.producers.map((p) => ({ id: p.producer_id, stored: p.stored, rejected: p.rejected, missing: p.missing, in_flight: p.in_flight }))).toEqual([
        { id: 'app-1', stored: 12, rejected: 2, missing: [], in_flight: [] },
        { id: 'client-x', stored: 2, rejected: 1, missing: [], in_flight: [] },
      ])
      expect(report.producers[0]!.head).toMatchObject({ last_seq: 14, final: true })
      // The accounting records are reserved: a caller cannot forge one.
      const forged = await createAuditLogger({ store, logger: silent })
      await expect(forged.log({ action: 'auditq.producer.head', metadata: { producer_id: 'app-1', last_seq: 1 } })).rejects.toMatchObject({ code: 'AUDITQ_VALIDATION' })
      await forged.close()
    })

    it('names lost numbers exactly: in flight while young, missing after the bound, including a lost tail', async () => {
      const { store } = await fresh()
      const lost = (seq: number | null | undefined) => seq != null && ((seq >= 5 && seq <= 7) || seq === 12 || seq >= 19)
      const audit = await createAuditLogger({ store: lossyStore(store, (event) => event.action === 'doc.edit' && lost(event.producer_seq)), logger: silent, producer: { id: 'app-2' } })
      for (let i = 0; i < 20; i++) await audit.log({ action: 'doc.edit' })
      await audit.close()

      const now = await checkCompleteness(store.completeness!, { producer_id: 'app-2' }, { inFlightBoundMs: BOUND })
      expect(now.producers[0]!.missing).toEqual([])
      expect(now.producers[0]!.in_flight.map((g) => [g.from, g.to])).toEqual([[5, 7], [12, 12], [19, 20]])

      const after = await checkCompleteness(store.completeness!, { producer_id: 'app-2' }, { now: later(), inFlightBoundMs: BOUND })
      expect(after.missing_events).toBe(6)
      expect(after.producers[0]!.missing.map((g) => [g.from, g.to])).toEqual([[5, 7], [12, 12], [19, 20]])
    })

    it('events deleted after they were stored are not reported lost: completeness counts what reached the store', async () => {
      const { store, deleteWhere } = await fresh()
      const audit = await createAuditLogger({ store, logger: silent, producer: { id: 'app-4' } })
      for (let i = 0; i < 10; i++) await audit.log({ action: 'doc.edit' })
      await audit.close()
      await deleteWhere("producer_id = 'app-4' AND producer_seq BETWEEN 3 AND 6")

      const report = await checkCompleteness(store.completeness!, { producer_id: 'app-4' }, { now: later(), inFlightBoundMs: BOUND })
      expect(report.missing_events).toBe(0)
      expect(report.producers[0]).toMatchObject({ stored: 10, missing: [], in_flight: [], last_stored_seq: 10 })
    })

    it('a restarted producer gets a new id; passing the id with the persisted next number continues the sequence', async () => {
      const { store } = await fresh()
      const first = await createAuditLogger({ store, logger: silent, producer: true })
      await first.log({ action: 'a' })
      await first.close()
      const second = await createAuditLogger({ store, logger: silent, producer: true })
      await second.log({ action: 'a' })
      await second.close()
      const resumed = await createAuditLogger({ store, logger: silent, producer: { id: 'app-3', nextSeq: 1 } })
      await resumed.log({ action: 'a' })
      await resumed.close()
      const continued = await createAuditLogger({ store, logger: silent, producer: { id: 'app-3', nextSeq: 2 } })
      await continued.log({ action: 'a' })
      await continued.close()
      const report = await checkCompleteness(store.completeness!, {}, { now: later(), inFlightBoundMs: BOUND })
      expect(report.producers).toHaveLength(3)
      expect(report.missing_events).toBe(0)
      expect(report.producers.find((p) => p.producer_id === 'app-3')).toMatchObject({ stored: 2, head: { last_seq: 2, final: true } })
    })
  })
}
