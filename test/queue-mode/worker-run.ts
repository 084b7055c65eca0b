/**
 * Where the stories about stopping an `auditq worker` process begin: a deployment of the test's
 * own (disposed after it), the SDK logging in queue mode, and one worker that has started reading.
 */
import { afterEach } from 'vitest'
import type { AuditLogger } from '../../src/sdk/audit-logger.js'
import { openDeployment, type CliProcess, type Deployment } from './harness.js'

export interface WorkerRun {
  deployment: Deployment
  audit: AuditLogger
  worker: CliProcess
}

/** Call inside a `describe`: registers the disposal and returns what each test calls to start its run. */
export function workerRunPerTest(): () => Promise<WorkerRun> {
  let deployment: Deployment | undefined
  afterEach(async () => {
    await deployment?.dispose()
    deployment = undefined
  })
  return async () => {
    const d = (deployment = await openDeployment())
    // A cap the load never reaches: these stories are about the worker, not about overflow.
    const audit = await d.openLogger({ capEvents: 1_000_000 })
    const worker = d.spawnWorker()
    await worker.waitForLog('queue worker started')
    return { deployment: d, audit, worker }
  }
}
