/**
 * `auditq search status|backfill` as an operator runs them (the built CLI on an embedded store
 * upgraded with events from before word search): the gap is reported with exit 1, the backfill
 * closes it, `auditq query --search` then finds the old events, and bad flags name their rule.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cliRunner } from '../../test/support/cli.js'
import { openEmbeddedConnection } from '../../test/support/embedded-connection.js'
import { storedEvent } from '../../test/support/events.js'
import { migrateAllBut } from '../../test/support/migrate-partial.js'
import { createEmbeddedStore, EMBEDDED_DB_FILE } from '../store/embedded/embedded-store.js'
import { EMBEDDED_MIGRATIONS, embeddedMigrationTarget } from '../store/embedded/migrations.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-search-cli-'))
const auditq = cliRunner(dataDir)
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('auditq search', () => {
  it('reports events without a search document, fills them in batches, and search then finds them', async () => {
    const file = join(dataDir, EMBEDDED_DB_FILE)
    await migrateAllBut(embeddedMigrationTarget(file, () => openEmbeddedConnection(file, { timeoutMs: 5_000 })), EMBEDDED_MIGRATIONS, [87, 88])
    const seed = await createEmbeddedStore({ dataDir })
    await seed.insertBatch(Array.from({ length: 25 }, (_, i) => storedEvent({ tenant_id: 'acme', metadata: { note: `walrus ${i}` } })))
    await seed.close()
    const raw = openEmbeddedConnection(file, { timeoutMs: 5_000 })
    raw.exec('DELETE FROM audit_logs_fts WHERE rowid <= 20')
    raw.close()

    const status = auditq(['search', 'status', '--json'])
    expect(status.code, status.stderr).toBe(1)
    expect(JSON.parse(status.stdout)).toEqual({ unindexed_events: 20 })
    const before = JSON.parse(auditq(['query', '--search', 'walrus', '--format', 'json', '--limit', '100']).stdout) as { events: unknown[] }
    expect(before.events).toHaveLength(5)

    const bad = auditq(['search', 'backfill', '--batch-rows', '0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--batch-rows must be a whole number from 1 to 10000')

    const run = auditq(['search', 'backfill', '--batch-rows', '6', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ filled: 20, remaining: 0, batches: 4, stopped: false })
    const after = JSON.parse(auditq(['query', '--search', 'walrus', '--format', 'json', '--limit', '100']).stdout) as { events: unknown[] }
    expect(after.events).toHaveLength(25)

    const done = auditq(['search', 'status'])
    expect(done.code).toBe(0)
    expect(done.stdout).toBe('every event has its search document\n')
    expect(auditq(['search', 'backfill']).stdout).toMatch(/^filled 0 search documents in 0 transactions \(\d+ ms\); every event has its search document\n$/)
  })
})
