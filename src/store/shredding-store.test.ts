/**
 * Crypto-shredding end to end on both real stores: personal values are sealed at the edge and
 * stored only as ciphertext, every read path reveals them (query, get by id, export stream,
 * reports' filters), a filter on the subject works through the blind index, and after an erasure
 * they read `[erased]` everywhere while `verify` still passes and the erasure is a chained event.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { afterEach, describe, expect, it } from 'vitest'
import { freshStore, type StoreKind, type TestStore } from '../../test/support/app.js'
import { postgresAvailable } from '../../test/support/services.js'
import type { AuditEvent } from '../event/types.js'
import { validateEvent } from '../event/validate.js'
import { chainHash, GENESIS_HASH } from '../integrity/canonical.js'
import type { ChainRow } from '../integrity/types.js'
import { verifyChains } from '../integrity/verify.js'
import { createAuditLogger, type AuditLogger } from '../sdk/audit-logger.js'
import { ERASED } from '../shred/crypto.js'
import { eraseSubject, ERASURE_ACTION } from '../shred/erase.js'
import type { ShreddingOptions } from '../shred/options.js'
import { createLogger } from '../util/logger.js'
import { EMBEDDED_DB_FILE } from './embedded/embedded-store.js'
import { shredderOf, withShredding } from './shredding-store.js'
import type { Store } from './store.js'

const hasPostgres = await postgresAvailable()
const silent = createLogger({ level: 'silent' })

const shreddingFor = (masterKey = randomBytes(32)): ShreddingOptions => ({
  subjectField: 'actor_id',
  fields: ['ip_address', 'user_agent', 'metadata.email'],
  masterKey,
  keyCacheTtlMs: 30_000,
})

async function collect(events: AsyncIterable<AuditEvent>): Promise<AuditEvent[]> {
  const all: AuditEvent[] = []
  for await (const event of events) all.push(event)
  return all
}

/** One statement on a connection of its own, beside the store (to break what the store relies on). */
async function rawExec(t: TestStore, sql: string): Promise<void> {
  if (t.location.databaseUrl) {
    const client = new pg.Client({ connectionString: t.location.databaseUrl, options: `-c search_path=${t.location.databaseSchema}` })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
    return
  }
  const db = openEmbeddedConnection(path.join(t.location.dataDir, EMBEDDED_DB_FILE))
  try {
    db.exec(sql)
  } finally {
    db.close()
  }
}

async function chainRows(store: Store, tenant: string): Promise<ChainRow[]> {
  return store.integrity!.snapshot(async (snapshot) => {
    const rows: ChainRow[] = []
    for await (const row of snapshot.rows(tenant)) rows.push(row)
    return rows
  })
}

const alice = {
  action: 'user.login',
  actor_id: 'alice@example.com',
  ip_address: '203.0.113.7',
  user_agent: 'Firefox/128',
  metadata: { email: 'alice@example.com', plan: 'pro' },
}
const bob = { action: 'user.login', actor_id: 'bob', ip_address: '198.51.100.2', user_agent: 'curl/8', metadata: { email: 'bob@example.com' } }

for (const kind of ['embedded', 'postgres'] as StoreKind[]) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`crypto-shredding on the ${kind} store`, () => {
    const cleanups: (() => Promise<void>)[] = []
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })

    async function setup(shredding = shreddingFor()): Promise<{ t: TestStore; audit: AuditLogger; shredding: ShreddingOptions }> {
      const t = await freshStore(kind)
      cleanups.push(() => t.dispose())
      const audit = await createAuditLogger({ store: t.store, logger: silent, shredding })
      cleanups.push(() => audit.close())
      return { t, audit, shredding }
    }

    it('stores only ciphertext of the subject and the personal fields, and reveals them on every read', async () => {
      const { t, audit } = await setup()
      const aliceId = await audit.log(alice)
      const [bobId] = (await audit.logBulk([bob])).ids

      const stored = (await t.store.getById(aliceId))!
      expect(stored).toMatchObject({ ip_address: null, user_agent: null, metadata: { plan: 'pro' } })
      expect(Object.keys(stored.sealed!).sort()).toEqual(['actor_id', 'ip_address', 'metadata.email', 'user_agent'])
      expect(stored.subject_index).toMatch(/^[0-9a-f]{64}$/)
      // The subject field holds the subject's pseudonym (its blind index), never its value.
      expect(stored.actor_id).toBe(`aqs:${stored.subject_index}`)
      const storedText = JSON.stringify(stored)
      for (const secret of ['alice@example.com', '203.0.113.7', 'Firefox']) expect(storedText).not.toContain(secret)

      const reading = audit.store
      expect(await reading.getById(aliceId)).toMatchObject(alice)
      const page = await reading.query({}, { limit: 10 })
      expect(page.events.map((e) => e.actor_id).sort()).toEqual(['alice@example.com', 'bob'])
      const exported = await collect(reading.stream({}))
      expect(exported.find((e) => e.id === bobId)).toMatchObject(bob)

      // No subject value: no one to erase it for, so it is stored as sent (documented).
      const anonymousId = await audit.log({ action: 'health.probe', ip_address: '192.0.2.200' })
      expect(await t.store.getById(anonymousId)).toMatchObject({ actor_id: null, ip_address: '192.0.2.200', sealed: null, subject_index: null })
    })

    it('finds a subject by an equality filter on the subject field, before and after erasure', async () => {
      const { audit } = await setup()
      const aliceId = await audit.log(alice)
      await audit.log(bob)
      const reading = audit.store
      expect((await reading.query({ actor_id: 'alice@example.com' }, { limit: 10 })).events.map((e) => e.id)).toEqual([aliceId])
      expect(await collect(reading.stream({ actor_id: 'bob' }))).toHaveLength(1)
      const report = await reading.report({ actor_id: 'alice@example.com' }, { topN: 5, topErrors: 1, bucket: 'day' })
      expect(report.total).toBe(1)
      expect(report.top_actors).toEqual([{ value: 'alice@example.com', count: 1 }])
      const all = await reading.report({}, { topN: 5, topErrors: 1, bucket: 'day' })
      expect(all.top_actors).toEqual([
        { value: 'alice@example.com', count: 1 },
        { value: 'bob', count: 1 },
      ])
      await eraseSubject(shredderOf(reading)!, reading.subjectKeys!, (events) => reading.insertBatch(events), { tenant_id: 'default', subject: 'alice@example.com', reason: 'request DSR-1' })
      // The event and its erasure record: both carry the subject's blind index.
      const after = (await reading.query({ actor_id: 'alice@example.com' }, { limit: 10 })).events
      expect(after.map((e) => e.action).sort()).toEqual([ERASURE_ACTION, 'user.login'])
      // Reports: the erased subject is one `[erased]` row; the erasure event's actor is auditq.
      const report2 = await reading.report({ action: 'user.login' }, { topN: 5, topErrors: 1, bucket: 'day' })
      expect(report2.top_actors).toEqual([
        { value: '[erased]', count: 1 },
        { value: 'bob', count: 1 },
      ])
    })

    it('after erase, reads show [erased] for that subject only, verify passes and the erasure is chained', async () => {
      const { t, audit, shredding } = await setup()
      const aliceId = await audit.log(alice)
      const bobId = await audit.log(bob)
      const reading = audit.store
      const before = (await t.store.getById(aliceId))!

      const report = await eraseSubject(shredderOf(reading)!, reading.subjectKeys!, (events) => reading.insertBatch(events), {
        tenant_id: 'default',
        subject: 'alice@example.com',
        reason: 'request DSR-1',
      })
      expect(report.key_id).toMatch(/^[A-Za-z0-9_-]{16}$/)

      // Nothing stored changed.
      expect(await t.store.getById(aliceId)).toEqual(before)
      const erased = { actor_id: ERASED, ip_address: ERASED, user_agent: ERASED, metadata: { email: ERASED, plan: 'pro' } }
      expect(await reading.getById(aliceId)).toMatchObject(erased)
      expect((await reading.query({ action: 'user.login' }, { limit: 10 })).events.find((e) => e.id === aliceId)).toMatchObject(erased)
      const exported = await collect(reading.stream({}))
      expect(exported.find((e) => e.id === aliceId)).toMatchObject(erased)
      expect(exported.find((e) => e.id === bobId)).toMatchObject(bob)
      // A second process (its own cache) reads the same.
      const other = withShredding(t.store, shredding).store
      expect(await other.getById(aliceId)).toMatchObject(erased)
      expect(await other.getById(bobId)).toMatchObject(bob)

      const verdict = await verifyChains(t.store.kind, t.store.integrity!)
      expect(verdict.intact).toBe(true)
      expect(verdict.events).toBe(3)

      const rows = await chainRows(t.store, 'default')
      const last = rows.at(-1)!
      expect(last.event).toMatchObject({ id: report.event_id, action: ERASURE_ACTION, resource_id: report.key_id, subject_index: before.subject_index })
      expect(last.event.metadata).toMatchObject({ key_id: report.key_id, reason: 'request DSR-1', wrapped_key_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })
      expect(last.prev_hash).toBe(rows.at(-2)!.hash)
      expect(JSON.stringify(last.event)).not.toContain('alice')

      // Erasing again finds no key and says so; the subject's events stay erased.
      const again = await eraseSubject(shredderOf(reading)!, reading.subjectKeys!, (events) => reading.insertBatch(events), { tenant_id: 'default', subject: 'alice@example.com', reason: 'again' })
      expect(again.key_id).toBeNull()
      expect((await verifyChains(t.store.kind, t.store.integrity!)).intact).toBe(true)
    })

    it('a new event of an erased subject gets a fresh key and reads in full', async () => {
      const { audit } = await setup()
      const oldId = await audit.log(alice)
      const reading = audit.store
      await eraseSubject(shredderOf(reading)!, reading.subjectKeys!, (events) => reading.insertBatch(events), { tenant_id: 'default', subject: 'alice@example.com', reason: 'r' })
      const newId = await audit.log(alice)
      expect(await reading.getById(newId)).toMatchObject(alice)
      expect(await reading.getById(oldId)).toMatchObject({ actor_id: ERASED })
    })

    it('creates one key per subject when many processes seal a new subject at once', async () => {
      const { t } = await setup()
      const shredding = shreddingFor()
      const processes = Array.from({ length: 6 }, () => withShredding(t.store, shredding).store)
      const keys = await Promise.all(processes.map(async (store) => shredderOf(store)!.keyring.forSubject('default', await shredderOf(store)!.subjectIndex('carol'))))
      expect(new Set(keys.map((k) => k.key_id)).size).toBe(1)
      expect(new Set(keys.map((k) => k.key.toString('hex'))).size).toBe(1)
    })

    it('refuses an event it cannot seal (the key table gone) and stores nothing in plaintext', async () => {
      const { t, audit } = await setup()
      await audit.log(bob)
      await rawExec(t, 'DROP TABLE subject_keys')
      await expect(audit.log(alice)).rejects.toMatchObject({ code: expect.stringMatching(/^AUDITQ_(STORE_UNAVAILABLE|INTERNAL)$/) })
      const stored = await collect(t.store.stream({}))
      expect(stored).toHaveLength(1)
      expect(JSON.stringify(stored)).not.toContain('alice')
    })

    it('refuses to read with another master key, naming the setting, instead of showing anything', async () => {
      const { t, audit } = await setup()
      const id = await audit.log(alice)
      const wrong = withShredding(t.store, shreddingFor(randomBytes(32))).store
      await expect(wrong.getById(id)).rejects.toMatchObject({ code: 'AUDITQ_MASTER_KEY', message: expect.stringContaining('AUDITQ_SHRED_MASTER_KEY') })
    })

    it('off by default: stored rows are exactly what validation made, hashed as before, and no key is made', async () => {
      const t = await freshStore(kind)
      cleanups.push(() => t.dispose())
      const receivedAt = new Date('2026-01-01T00:00:01.000Z')
      const audit = await createAuditLogger({ store: t.store, logger: silent, now: () => receivedAt })
      cleanups.push(() => audit.close())
      expect(audit.store).toBe(t.store)
      const input = { ...alice, id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', occurred_at: '2026-01-01T00:00:00.000Z' }
      const validated = validateEvent(input, { receivedAt, defaultTenant: 'default' })
      if (!validated.ok) throw new Error('fixture invalid')
      await audit.log(input)
      const stored = (await t.store.getById(input.id))!
      expect(stored).toEqual(validated.event)
      expect(stored).toMatchObject({ ...alice, sealed: null, subject_index: null })
      const [row] = await chainRows(t.store, 'default')
      expect(row!.hash).toBe(chainHash(GENESIS_HASH, validated.event))
      expect(await t.store.subjectKeys!.all()).toEqual([])
    })
  })
}
