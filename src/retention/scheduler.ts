/**
 * The periodic side of integrity and retention inside `serve` and `worker`: sign moved chain heads every
 * `integrity.checkpointIntervalMs` (when a key is configured) and run retention every
 * `retention.intervalMs` (when `retention.days` is set). Several processes may run this; the
 * retention lock lets only one of them delete at a time, the others log that it was busy.
 */
import type { Config } from '../config.js'
import type { SigningKey } from '../integrity/checkpoint.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import type { RetentionTarget } from './retention-store.js'
import type { Logger } from '../util/logger.js'
import { retentionChunkRows, runCleanup } from './cleanup.js'

const DAY_MS = 86_400_000

export interface Maintenance {
  stop(): Promise<void>
}

export function startMaintenance(options: { store: RetentionTarget; config: Config; signingKey: SigningKey | undefined; logger: Logger }): Maintenance {
  const { store, config, signingKey, logger } = options
  const integrity = store.integrity
  const timers: NodeJS.Timeout[] = []
  // One task at a time per process, so a slow retention run never overlaps the next tick.
  let running: Promise<void> = Promise.resolve()
  const schedule = (everyMs: number, name: string, task: () => Promise<void>) => {
    const timer = setInterval(() => {
      running = running.then(task).catch((error: unknown) => logger.error({ err: error }, `${name} failed; retrying at the next interval`))
    }, everyMs)
    timer.unref()
    timers.push(timer)
  }
  if (integrity && signingKey) {
    schedule(config.integrity.checkpointIntervalMs, 'checkpoint', async () => {
      const signed = await createCheckpoints(integrity, signingKey, {
        tree: config.integrity.merkleTree,
        onTreeUnavailable: (tenant, error) => logger.warn({ tenant_id: tenant, err: error }, 'integrity: checkpoint signed without a Merkle tree'),
      })
      if (signed.length > 0) logger.info({ checkpoints: signed.length }, 'integrity: signed chain heads')
    })
  }
  const days = config.retention.days
  if (integrity && days !== undefined) {
    if (!signingKey) logger.warn('retention is on without a signing key: cuts are recorded but not signed')
    schedule(config.retention.intervalMs, 'retention', async () => {
      const report = await runCleanup(store, {
        cutoff: new Date(Date.now() - days * DAY_MS),
        keepActions: config.retention.keepActions,
        dryRun: false,
        chunkRows: retentionChunkRows(config.retention.chunkRows, store.kind),
        defaultTenant: config.defaultTenant,
        signingKey,
        logger,
      })
      if (report.status === 'locked') logger.info('retention: another process is running it; skipped')
      else if (report.status === 'done') logger.info({ deleted: report.total, cutoff: report.cutoff, duration_ms: report.duration_ms }, 'retention: run finished')
    })
  }
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer)
      await running
    },
  }
}
