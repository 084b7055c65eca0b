import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openEmbeddedConnection } from '../../../test/support/embedded-connection.js'
import type { SqliteDatabase } from './sqlite-driver.js'
import { ROW_LAYOUT } from '../../../test/support/chain-tamper.js'
import { storedEvent } from '../../../test/support/events.js'
import { describeIntegrityContract } from '../../../test/contracts/integrity.contract.js'
import { describeMerkleContract } from '../../../test/contracts/merkle.contract.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded-store.js'
import { generateSigningKeyPem, parseSigningKey } from '../../integrity/checkpoint.js'
import { createCheckpoints } from '../../integrity/make-checkpoints.js'

function withConnection(file: string, fn: (db: SqliteDatabase) => void): void {
  const db = openEmbeddedConnection(file, { timeoutMs: 5_000 })
  try {
    fn(db)
  } finally {
    db.close()
  }
}

describeIntegrityContract('embedded', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-integrity-'))
  const file = path.join(dataDir, EMBEDDED_DB_FILE)
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  return {
    store,
    // Whoever can write the file can drop the triggers; the test does what they would.
    tamper: async (statements) =>
      withConnection(file, (db) => {
        const triggers = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger'").all()
        for (const { name } of triggers) db.exec(`DROP TRIGGER "${name}"`)
        for (const statement of statements) db.exec(statement)
      }),
    plain: async (statement) => withConnection(file, (db) => void db.exec(statement)),
    chain: ROW_LAYOUT,
    dispose: async () => {
      await store.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
})

describe('embedded retention lease', () => {
  it('deletes no chunk once another process has taken the lease over', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-lease-'))
    const store = await createEmbeddedStore({ dataDir })
    try {
      await store.migrate()
      const old = new Date(Date.now() - 100 * 86_400_000).toISOString()
      await store.insertBatch(Array.from({ length: 5 }, () => storedEvent({ tenant_id: 'acme', occurred_at: old })))
      const integrity = store.integrity!
      const rule = { tenant_id: 'acme', maxSeq: 5, cutoff: new Date().toISOString(), keep_actions: [] }
      const outcome = await integrity.withRetentionLock(async () => {
        expect(await integrity.deleteChunk(rule, 0, 2)).toMatchObject({ deleted: 2, lastSeq: 2, done: false })
        // Another process decided this run was dead (its lease expired) and took the lease.
        withConnection(path.join(dataDir, EMBEDDED_DB_FILE), (db) =>
          db.prepare("UPDATE auditq_leases SET holder = 'other', expires_at = ? WHERE name = 'retention'").run(Date.now() + 60_000),
        )
        await expect(integrity.deleteChunk(rule, 2, 2)).rejects.toThrow('retention lease was taken over by another process')
        return 'stopped'
      })
      expect(outcome).toEqual({ ran: true, value: 'stopped' })
      expect((await store.query({ tenant_id: 'acme' }, { limit: 10 })).events).toHaveLength(3)
    } finally {
      await store.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describeMerkleContract('embedded', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-merkle-'))
  const store = await createEmbeddedStore({ dataDir })
  await store.migrate()
  return {
    store,
    dispose: async () => {
      await store.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
})

describe('embedded Merkle tree over a chain with a hash gone', () => {
  it('signs that tenant without a tree, says so, and does not sign the same head again; other tenants get their tree', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'auditq-merkle-gap-'))
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    try {
      await store.insertBatch(Array.from({ length: 5 }, () => storedEvent({ tenant_id: 'acme' })))
      await store.insertBatch(Array.from({ length: 3 }, () => storedEvent({ tenant_id: 'globex' })))
      // What a retention run of an older version left behind: a deleted row whose hash no tile holds.
      withConnection(path.join(dataDir, EMBEDDED_DB_FILE), (db) => {
        for (const { name } of db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_logs'").all()) db.exec(`DROP TRIGGER "${name}"`)
        db.prepare("DELETE FROM audit_logs WHERE tenant_id = 'acme' AND seq = 3").run()
      })
      const key = parseSigningKey(generateSigningKeyPem().privateKeyPem)
      const unavailable: string[] = []
      const onTreeUnavailable = (tenant: string, error: Error) => unavailable.push(`${tenant}: ${error.message}`)
      const signed = await createCheckpoints(store.integrity!, key, { onTreeUnavailable })
      expect(signed.map((c) => [c.tenant_id, c.tree?.size ?? null])).toEqual([['acme', null], ['globex', 3]])
      expect(unavailable).toEqual([expect.stringMatching(/^acme: .*seq 3 is not stored/)])
      expect(await createCheckpoints(store.integrity!, key, { onTreeUnavailable })).toEqual([])
    } finally {
      await store.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
