/**
 * `auditq completeness` as an operator runs it: exit 0 when every number of every producer is
 * accounted for, exit 1 naming the producer and range when numbers are missing.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.js'
import { createLogger } from '../src/util/logger.js'
import { CLI, cliEnv, cliRunner } from './support/cli.js'
import { lossyStore } from './support/lossy-store.js'

describe('auditq completeness', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-cli-completeness-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))
  const auditq = cliRunner(dataDir)

  it('exits 0 with nothing missing, 1 naming the missing range once numbers are lost', async () => {
    const store = await createEmbeddedStore({ dataDir })
    await store.migrate()
    const audit = await createAuditLogger({ store, logger: createLogger({ level: 'silent' }), producer: { id: 'cli-app' } })
    for (let i = 0; i < 6; i++) await audit.log({ action: 'doc.view' })
    await audit.close()

    const clean = auditq(['completeness'])
    expect(clean).toMatchObject({ code: 0, stdout: expect.stringMatching(/^complete: no producer has missing events \(1 producers\)\n {2}cli-app: 6 stored, 0 rejected, 0 dead-lettered, head 6 \(final\)/) })

    // A second producer whose numbers 2 and 3 are lost on the way to the store.
    const leaky = await createAuditLogger({ store: lossyStore(store, (event) => event.producer_seq === 2 || event.producer_seq === 3), logger: createLogger({ level: 'silent' }), producer: { id: 'leaky-app' } })
    for (let i = 0; i < 6; i++) await leaky.log({ action: 'doc.view' })
    await leaky.close()
    await store.close()
    // The numbers were issued moments ago: in flight under the default bound, missing under 1 s.
    expect(auditq(['completeness', '--producer', 'leaky-app'])).toMatchObject({ code: 0, stdout: expect.stringContaining('in flight: 2-3') })
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const lost = cliRunnerWith(dataDir, { AUDITQ_COMPLETENESS_IN_FLIGHT_BOUND_MS: '1000' })(['completeness', '--json'])
    expect(lost.code).toBe(1)
    expect(JSON.parse(lost.stdout)).toMatchObject({ missing_events: 2, producers: [{ producer_id: 'cli-app', missing: [] }, { producer_id: 'leaky-app', missing: [{ from: 2, to: 3 }] }] })
    expect(auditq(['completeness', '--since', 'yesterday']).code).toBe(2)
  })
})

/** As cliRunner, with settings of our own in the environment (cliEnv drops the caller's AUDITQ_*). */
function cliRunnerWith(dataDir: string, settings: Record<string, string>) {
  return (args: string[]) => {
    const result = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, ...args], { encoding: 'utf8', env: cliEnv(settings) })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}
