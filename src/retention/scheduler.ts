/**
 * The periodic side of integrity and retention inside `serve` and `worker`: sign moved chain heads every
 * `integrity.checkpointIntervalMs` (when a key is configured) and run retention every
 * `retention.intervalMs` (when `retention.days` is set). Several processes may run this; the
 * retention lock lets only one of them delete at a time, the others log that it was busy.
 */
import type { Config } from '../config.js'
import type { SigningKey } from '../integrity/checkpoint.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import type { AccessRecorder } from '../access/recorder.js'
import type { ArchiveConfirmations } from './archive-confirmations.js'
import type { RetentionTarget } from './retention-store.js'
import type { Logger } from '../util/logger.js'
import { retentionChunkRows, runCleanup } from './cleanup.js'

const DAY_MS = 86_400_000

export interface Maintenance {
  stop(): Promise<void>
}

export interface MaintenanceOptions {
  store: RetentionTarget
  config: Config
  signingKey: SigningKey | undefined
  logger: Logger
  /** The archive stream's confirmations, when one is configured (archive before delete). */
  archive?: ArchiveConfirmations
  /** Records each run in the access trail (`auditq.retention.run`). */
  recorder?: Pick<AccessRecorder, 'recordOrWarn'>
}

export function startMaintenance(options: MaintenanceOptions): Maintenance {
  const { store, config, signingKey, logger } = options
  // retention.archiveBeforeDelete=false is the explicit, documented way to delete without waiting for the archive.
  const archive = config.retention.archiveBeforeDelete ? options.archive : undefined
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
  // With retention.days unset, tenants that have their own retention are still cleaned.
  const rules = store.retentionRules
  if (integrity && (days !== undefined || rules)) {
    if (!signingKey && days !== undefined) logger.warn('retention is on without a signing key: cuts are recorded but not signed')
    schedule(config.retention.intervalMs, 'retention', async () => {
      if (days === undefined && (await rules!.listTenantRetention()).length === 0) return
      const report = await runCleanup(store, {
        cutoff: days === undefined ? null : new Date(Date.now() - days * DAY_MS),
        keepActions: config.retention.keepActions,
        dryRun: false,
        chunkRows: retentionChunkRows(config.retention.chunkRows, store.kind),
        defaultTenant: config.defaultTenant,
        signingKey,
        logger,
        archive,
      })
      if (report.status === 'done') {
        const what = { cutoff: report.cutoff, deleted: report.total, tenants: report.tenants.map((t) => ({ tenant_id: t.tenant_id, deleted: t.deleted, cut_seq: t.cut_seq })), skipped: report.skipped }
        await options.recorder?.recordOrWarn({ kind: 'retention.run', actor: { kind: 'system', id: null }, tenant: null, what })
      }
      if (report.status === 'locked') logger.info('retention: another process is running it; skipped')
      else if (report.status === 'done') logger.info({ deleted: report.total, cutoff: report.cutoff, duration_ms: report.duration_ms, skipped: report.skipped.length }, 'retention: run finished')
    })
  }
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer)
      await running
    },
  }
}
