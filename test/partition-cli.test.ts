import { spawnSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { createPostgresStore } from '../src/store/postgres/postgres-store.js'
import { CLI, cliEnv } from './support/cli.js'
import { storedEvent } from './support/events.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, uniqueSchema } from './support/services.js'

const hasPostgres = await postgresAvailable()

describe.skipIf(!hasPostgres)('auditq migrate --partition', () => {
  const schema = uniqueSchema('partcli')
  afterAll(() => dropSchemas([schema]))
  const auditq = (args: string[], settings: Record<string, string> = {}) => {
    const result = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: cliEnv({ AUDITQ_DATABASE_URL: POSTGRES_URL, AUDITQ_DATABASE_SCHEMA: schema, ...settings }),
    })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }

  it('converts a table holding events; a partitioned start then works, and verify still passes', async () => {
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    await store.insertBatch(Array.from({ length: 30 }, (_, i) => storedEvent({ occurred_at: new Date(Date.now() - i * 86_400_000).toISOString() })))
    await store.close()

    // Partitioning on, table not converted: start-up refuses and names the command.
    const refused = auditq(['migrate'], { AUDITQ_PG_PARTITION_INTERVAL: 'week' })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/auditq migrate --partition/)
    expect(auditq(['migrate', '--partition'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--interval/) })

    const converted = auditq(['migrate', '--partition', '--interval', 'week'])
    expect(converted).toMatchObject({ code: 0, stdout: expect.stringMatching(/30 existing events kept as partition audit_logs_legacy/) })
    expect(auditq(['migrate'], { AUDITQ_PG_PARTITION_INTERVAL: 'week' }).code).toBe(0)
    expect(auditq(['verify'], { AUDITQ_PG_PARTITION_INTERVAL: 'week' })).toMatchObject({ code: 0, stdout: expect.stringMatching(/intact: 30 events/) })
  })
})
