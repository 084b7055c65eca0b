/** `auditq cleanup --older-than 90d [--keep-actions a,b] [--dry-run]`. */
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { parseAge, retentionChunkRows, runCleanup } from '../retention/cleanup.js'
import { commandConfig, commandLogger, openExistingStore } from './context.js'

export function registerCleanup(program: Command): void {
  program
    .command('cleanup')
    .description('delete events older than a cutoff (retention), keeping excluded actions and a verifiable chain')
    .requiredOption('--older-than <age>', 'days, hours or minutes, e.g. 90d, 12h, 30min (no bare "m": minutes or months?)')
    .option('--keep-actions <actions>', 'comma-separated actions never deleted, in addition to retention.keepActions (AUDITQ_RETENTION_KEEP_ACTIONS)')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: { olderThan: string; keepActions?: string; dryRun?: boolean; json?: boolean }, command: Command) => {
      const config = commandConfig(command)
      const ageMs = parseAge(options.olderThan)
      if (ageMs === undefined || ageMs <= 0) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', `--older-than must be a positive age up to 36500d, like 90d, 12h or 30min (no bare "m": minutes or months?); got ${JSON.stringify(options.olderThan.slice(0, 40))}`)
      }
      const keepActions = keepActionsFor(config.retention.keepActions, options.keepActions)
      const signingKey = await loadSigningKey(config.integrity)
      const logger = commandLogger(config)
      const store = await openExistingStore(config)
      try {
        const report = await runCleanup(store, {
          cutoff: new Date(Date.now() - ageMs),
          keepActions,
          dryRun: options.dryRun === true,
          chunkRows: retentionChunkRows(config.retention.chunkRows, store.kind),
          defaultTenant: config.defaultTenant,
          signingKey,
          logger,
        })
        if (options.json) {
          process.stdout.write(JSON.stringify(report, null, 2) + '\n')
        } else if (report.status === 'locked') {
          process.stdout.write('another cleanup is running (retention lock held); nothing done\n')
        } else {
          const verb = report.status === 'dry_run' ? 'would delete' : 'deleted'
          process.stdout.write(`${verb} ${report.total} events older than ${report.cutoff} (kept actions: ${report.keep_actions.join(', ')})\n`)
          for (const tenant of report.tenants) {
            const count = report.status === 'dry_run' ? tenant.candidates : tenant.deleted
            process.stdout.write(`  ${tenant.tenant_id}: ${count}${report.status === 'done' ? `, chain cut at seq ${tenant.cut_seq}` : ''}\n`)
          }
          if (report.status === 'done') {
            process.stdout.write(`took ${report.duration_ms} ms; ${report.checkpoints.length > 0 ? `signed ${report.checkpoints.length} checkpoints at the cut` : 'no signing key: cut recorded unsigned'}\n`)
          }
        }
        if (report.status === 'locked') process.exitCode = 3
      } finally {
        await store.close()
      }
    })
}

/**
 * `--keep-actions` adds to the configured exclusions, never replaces them: a flag typed for one
 * run must not make events the policy protects (say `gdpr.consent`) deletable.
 */
export function keepActionsFor(configured: readonly string[], flag: string | undefined): string[] {
  const extra = flag === undefined ? [] : flag.split(',').map((action) => action.trim()).filter(Boolean)
  return [...new Set([...configured, ...extra])]
}
