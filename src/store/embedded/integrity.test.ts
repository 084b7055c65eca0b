import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { ROW_LAYOUT } from '../../../test/support/chain-tamper.js'
import { describeIntegrityContract } from '../../integrity/integrity.contract.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from './embedded-store.js'

function withConnection(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file, { timeout: 5_000 })
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
