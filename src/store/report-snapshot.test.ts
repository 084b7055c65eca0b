/**
 * Reports while ingest continues: each report's figures must describe one snapshot. The data is
 * shaped so that every top list holds every value (few distinct values, top N larger), hence
 * each list must sum exactly to the total, and the failing actions to the failures. A report whose
 * statements saw different moments would break those sums as soon as a batch lands in between.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReportData } from '../report/model.js'
import { freshStore, type TestStore } from '../../test/support/app.js'
import { storedEvent } from '../../test/support/events.js'
import { POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../test/support/services.js'
import { buildEmbeddedStore, spawnWriter, type CompiledEmbeddedStore } from '../../test/fixtures/embedded-child.js'
import { createEmbeddedStore } from './embedded/embedded-store.js'
import { createPostgresStore } from './postgres/postgres-store.js'
import type { Store } from './store.js'

const OPTIONS = { topN: 50, topErrors: 50, bucket: 'hour' as const }
const REPORTS = 25

function expectOneSnapshot(report: ReportData): void {
  const sum = (values: { count: number }[]) => values.reduce((total, value) => total + value.count, 0)
  expect(report.successes + report.failures).toBe(report.total)
  expect(report.by_category.info + report.by_category.warning + report.by_category.critical).toBe(report.total)
  expect(report.timeline.reduce((total, bucket) => total + bucket.total, 0)).toBe(report.total)
  expect(sum(report.top_actors)).toBe(report.total)
  expect(sum(report.top_actions)).toBe(report.total)
  expect(sum(report.top_resource_types)).toBe(report.total)
  expect(report.failures_by_action.reduce((total, failing) => total + failing.failures, 0)).toBe(report.failures)
  for (const failing of report.failures_by_action) expect(sum(failing.top_errors)).toBe(failing.failures)
}

const hasPostgres = await postgresAvailable()

describe.runIf(hasPostgres)('PostgreSQL report during ingest', () => {
  let reader: TestStore
  let writer: Store
  beforeAll(async () => {
    reader = await freshStore('postgres')
    // A second store on the same schema: its own pool, like another service instance ingesting.
    writer = await createPostgresStore({ connectionString: POSTGRES_URL, schema: (reader.store as { schemaName?: string }).schemaName ?? uniqueSchema('x') })
  })
  afterAll(async () => {
    await writer.close()
    await reader.dispose()
  })

  it('sees one snapshot per report while batches keep landing, and never stops them', async () => {
    const now = Date.now()
    const filter = { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString() }
    let writing = true
    let batches = 0
    const ingest = (async () => {
      for (let i = 0; writing; i++) {
        const at = new Date(now - (i % 50) * 1_000).toISOString()
        await writer.insertBatch(
          Array.from({ length: 40 }, (_, j) =>
            storedEvent({
              occurred_at: at,
              received_at: at,
              action: `act.${j % 3}`,
              actor_id: j % 4 === 0 ? null : `actor-${j % 3}`,
              category: j % 10 === 0 ? 'critical' : 'info',
              success: j % 5 !== 0,
              error_message: j % 5 === 0 ? `error ${j % 2}` : null,
            }),
          ),
        )
        batches += 1
      }
    })()
    const totals: number[] = []
    try {
      for (let i = 0; i < REPORTS; i++) {
        const report = await reader.store.report(filter, OPTIONS)
        expectOneSnapshot(report)
        totals.push(report.total)
      }
    } finally {
      writing = false
      await ingest
    }
    // Ingest went on during the reports (they did not block it), and the reports saw it grow.
    expect(batches).toBeGreaterThan(1)
    expect(totals.at(-1)).toBeGreaterThan(totals[0]!)
  })
})

describe('embedded report during another process’s ingest', () => {
  let compiled: CompiledEmbeddedStore
  let dataDir: string
  let store: Store
  beforeAll(async () => {
    compiled = await buildEmbeddedStore()
    dataDir = mkdtempSync(join(tmpdir(), 'auditq-report-'))
    store = await createEmbeddedStore({ dataDir })
    await store.migrate()
  }, 60_000)
  afterAll(async () => {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
    await compiled.remove()
  })

  it('sees one snapshot per report while the writer commits', async () => {
    const child = spawnWriter(compiled.modulePath, dataDir, { batches: 0, maxBatchSize: 50 })
    await child.ready
    const now = Date.now()
    const filter = { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString() }
    const totals: number[] = []
    try {
      while (child.acknowledgedIds().length < 200) await new Promise((resolve) => setTimeout(resolve, 10))
      // More rounds than PostgreSQL's: a race needs a commit to land inside one report's few milliseconds.
      for (let i = 0; i < 4 * REPORTS; i++) {
        const report = await store.report(filter, OPTIONS)
        expectOneSnapshot(report)
        totals.push(report.total)
        // Yield so the child's commits interleave with ours rather than only between test phases.
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    } finally {
      child.kill('SIGKILL')
      await child.exited
    }
    expect(totals.at(-1)).toBeGreaterThan(totals[0]!)
  })

  it('cancels a report over its time limit and answers the next one from a fresh worker', async () => {
    // A store whose worker has not started yet: starting it alone takes longer than 1 ms.
    const dir = mkdtempSync(join(tmpdir(), 'auditq-report-timeout-'))
    const cold = await createEmbeddedStore({ dataDir: dir })
    try {
      await cold.migrate()
      await cold.insertBatch([storedEvent()])
      await expect(cold.report({}, { ...OPTIONS, timeoutMs: 1 })).rejects.toMatchObject({ code: 'AUDITQ_STORE_UNAVAILABLE' })
      expect((await cold.report({}, { ...OPTIONS, timeoutMs: 60_000 })).total).toBe(1)
    } finally {
      await cold.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('leaves the event loop free: the same process inserts while its report runs', async () => {
    const now = Date.now()
    const filter = { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString() }
    let settled = false
    const running = store.report(filter, OPTIONS).finally(() => (settled = true))
    // A synchronous report would have finished on the call above, before this insert could start.
    const at = new Date(now).toISOString()
    await store.insertBatch([storedEvent({ occurred_at: at, received_at: at, actor_id: 'same-process' })])
    expect(settled).toBe(false)
    expectOneSnapshot(await running)
  })
})
