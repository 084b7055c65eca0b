/**
 * `auditq erase --subject S --reason TEXT`: crypto-shredding's erasure (docs/erasure.md), and
 * `auditq rewrap-keys --old-key-file FILE` for rotating its master key.
 */
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import { eraseSubject } from '../shred/erase.js'
import { shreddingFromConfig } from '../shred/from-config.js'
import { loadMasterKey } from '../shred/master-key.js'
import type { ShreddingOptions } from '../shred/options.js'
import { rewrapKeys } from '../shred/rewrap.js'
import { withShredding } from '../store/shredding-store.js'
import type { Config } from '../config.js'
import { commandConfig, openExistingStore } from './context.js'

function requireShredding(config: Config, command: string): ShreddingOptions {
  const shredding = shreddingFromConfig(config)
  if (!shredding) throw new AuditqError('AUDITQ_CONFIG', `auditq ${command} needs crypto-shredding configured: set AUDITQ_SHRED_SUBJECT_FIELD and AUDITQ_SHRED_MASTER_KEY (see docs/erasure.md)`)
  return shredding
}

export function registerErase(program: Command): void {
  program
    .command('erase')
    .description("crypto-shredding: destroy one subject's key, so its personal values read [erased] everywhere, and chain an auditq.erasure event; the chain still verifies")
    .requiredOption('--subject <value>', 'the subject, as its subject field (AUDITQ_SHRED_SUBJECT_FIELD) holds it, e.g. the actor_id')
    .requiredOption('--reason <text>', 'why (a request or ticket reference; stored in the erasure event, so no personal data)')
    .option('--tenant-id <tenant>', 'the tenant whose subject this is (default: the default tenant)')
    .option('--json', 'print the report as JSON')
    .action(async (options: { subject: string; reason: string; tenantId?: string; json?: boolean }, command: Command) => {
      const config = commandConfig(command)
      const shredding = requireShredding(config, 'erase')
      const signingKey = await loadSigningKey(config.integrity)
      const raw = await openExistingStore(config)
      try {
        const { store, shredder } = withShredding(raw, shredding)
        const report = await eraseSubject(shredder, store.subjectKeys!, (events) => store.insertBatch(events), {
          tenant_id: options.tenantId ?? config.defaultTenant,
          subject: options.subject,
          reason: options.reason,
        })
        // Signed at once when a key is configured, so the erasure record is covered by a checkpoint
        // without waiting for the service's next one.
        const checkpoints = signingKey && store.integrity ? await createCheckpoints(store.integrity, signingKey) : []
        if (options.json) process.stdout.write(JSON.stringify({ ...report, checkpoints: checkpoints.length }, null, 2) + '\n')
        else {
          process.stdout.write(
            report.key_id
              ? `erased: key ${report.key_id} of tenant ${report.tenant_id} destroyed; erasure recorded as event ${report.event_id}\n`
              : `nothing to erase: the subject has no key in tenant ${report.tenant_id} (never sealed, or erased before); request recorded as event ${report.event_id}\n`,
          )
        }
      } finally {
        await raw.close()
      }
    })

  program
    .command('rewrap-keys')
    .description('crypto-shredding: rewrap every stored subject key from the old master key to the configured one (AUDITQ_SHRED_MASTER_KEY)')
    .requiredOption('--old-key-file <file>', 'a file holding the previous master key')
    .option('--json', 'print the report as JSON')
    .action(async (options: { oldKeyFile: string; json?: boolean }, command: Command) => {
      const config = commandConfig(command)
      const shredding = requireShredding(config, 'rewrap-keys')
      const old = loadMasterKey({ masterKeyFile: options.oldKeyFile })
      const store = await openExistingStore(config)
      try {
        if (!store.subjectKeys) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store has no subject key table`)
        const report = await rewrapKeys(store.subjectKeys, old, shredding.masterKey)
        if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
        else process.stdout.write(`rewrapped ${report.rewrapped} keys from master key ${report.from_master_key_id} to ${report.to_master_key_id} (${report.already} already under it)\n`)
      } finally {
        await store.close()
      }
    })
}
