import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startWorker, type TestWorker } from '../../../test/cloudflare/miniflare.js'
import { EMBEDDED_MIGRATIONS } from '../../store/embedded/migrations.js'
import { D1_MIGRATIONS, migrateD1, migrationFileText } from './schema.js'

// workerd start-up and queue delivery on a shared 2-core machine: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 })

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../examples/cloudflare/migrations/', import.meta.url))
const fileName = (m: { version: number; name: string }) => `${String(m.version).padStart(4, '0')}_${m.name}.sql`

describe('D1 schema', () => {
  it('version 1 is the embedded store version 1, statement for statement (only IF NOT EXISTS added)', () => {
    const d1 = D1_MIGRATIONS[0]!.statements.map((s) => s.replace(' IF NOT EXISTS', ''))
    expect(d1).toEqual(EMBEDDED_MIGRATIONS[1])
  })

  it('the migration files for `wrangler d1 migrations apply` are the generated ones (AUDITQ_WRITE_MIGRATIONS=1 rewrites them)', () => {
    if (process.env.AUDITQ_WRITE_MIGRATIONS === '1') {
      for (const m of D1_MIGRATIONS) writeFileSync(MIGRATIONS_DIR + fileName(m), migrationFileText(m))
    }
    expect(readdirSync(MIGRATIONS_DIR).sort()).toEqual(D1_MIGRATIONS.map(fileName))
    for (const m of D1_MIGRATIONS) expect(readFileSync(MIGRATIONS_DIR + fileName(m), 'utf8'), fileName(m)).toBe(migrationFileText(m))
  })

  describe('in workerd', () => {
    let worker: TestWorker
    beforeAll(async () => {
      worker = await startWorker({ mode: 'direct' }) // runs migrateD1 once
    })
    afterAll(() => worker?.dispose())

    it('migrateD1 applies each version once and is a no-op afterwards', async () => {
      expect(await worker.sql('SELECT version, name FROM auditq_migrations ORDER BY version')).toEqual(D1_MIGRATIONS.map(({ version, name }) => ({ version, name })))
      expect(await migrateD1(worker.db)).toEqual({ applied: [], current: 3 })
    })

    const fileStatements = (m: (typeof D1_MIGRATIONS)[number]) =>
      migrationFileText(m)
        .split(/;\n/)
        .map((s) => s.replace(/^--.*\n/gm, '').trim())
        .filter(Boolean)

    it('the files of versions 1 and 2 apply cleanly over a migrated database (either path, any order)', async () => {
      for (const m of D1_MIGRATIONS.filter((m) => m.version <= 2)) {
        await worker.db.batch(fileStatements(m).map((s) => worker.db.prepare(s)))
      }
      expect(await worker.sql<{ n: number }>('SELECT count(*) AS n FROM auditq_migrations')).toEqual([{ n: 3 }])
    })

    it('the file of version 3 (ADD COLUMN has no IF NOT EXISTS) refuses a migrated database whole, changing nothing', async () => {
      const version3 = D1_MIGRATIONS.find((m) => m.version === 3)!
      const before = await worker.sql('SELECT name FROM pragma_table_info(\'audit_logs\') ORDER BY cid')
      await expect(worker.db.batch(fileStatements(version3).map((s) => worker.db.prepare(s)))).rejects.toThrow(/duplicate column/)
      expect(await worker.sql('SELECT name FROM pragma_table_info(\'audit_logs\') ORDER BY cid')).toEqual(before)
    })

    it('STRICT and CHECK constraints hold on D1 as in the embedded store', async () => {
      await expect(worker.exec("INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, success) VALUES ('x', 't', 'not a number', 1, 'a', 'info', 1)")).rejects.toThrow(/SQLITE_CONSTRAINT|cannot store TEXT value in INTEGER column/)
      await expect(worker.exec("INSERT INTO audit_logs (id, tenant_id, occurred_at, received_at, action, category, success) VALUES ('x', 't', 1, 1, 'a', 'urgent', 1)")).rejects.toThrow(/CHECK constraint failed/)
    })
  })
})
