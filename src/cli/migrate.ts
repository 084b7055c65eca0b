import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { openStore } from '../store/open-store.js'
import { PARTITION_INTERVALS, type PartitionInterval } from '../store/postgres/partition-layout.js'
import type { PostgresStore } from '../store/postgres/postgres-store.js'
import { commandConfig, storeLocation } from './context.js'

interface MigrateOptions {
  partition?: boolean
  interval?: string
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the schema (also done automatically at start)')
    .option(
      '--partition',
      'convert audit_logs to the time-partitioned PostgreSQL layout; inserts and reads wait while it runs (about one read of the table, see docs/scaling.md)',
    )
    .option('--interval <interval>', `partition size with --partition: ${PARTITION_INTERVALS.join(', ')} (default: AUDITQ_PG_PARTITION_INTERVAL)`)
    .action(async (options: MigrateOptions, command: Command) => {
      const config = commandConfig(command)
      const interval = options.interval ?? config.partitions.interval
      if (options.partition && !(PARTITION_INTERVALS as readonly string[]).includes(interval ?? '')) {
        throw new AuditqError('AUDITQ_CONFIG', `--interval: one of ${PARTITION_INTERVALS.join(', ')} (or set AUDITQ_PG_PARTITION_INTERVAL); got ${interval ?? 'nothing'}`)
      }
      // Opened in the unpartitioned layout: a store opened partitioned refuses a table holding events.
      const location = options.partition ? { ...storeLocation(config), partitions: undefined } : storeLocation(config)
      const store = await openStore(location)
      try {
        const report = await store.migrate()
        process.stdout.write(`${store.kind} store at ${store.description}: schema version ${report.current}\n`)
        if (!options.partition) return
        if (store.kind !== 'postgres') throw new AuditqError('AUDITQ_CONFIG', '--partition: partitioning is a PostgreSQL layout (AUDITQ_DATABASE_URL)')
        const started = Date.now()
        const result = await (store as PostgresStore).convertToPartitioned({ interval: interval as PartitionInterval, ahead: config.partitions.ahead })
        const legacy = result.legacyRows > 0 ? `; ${result.legacyRows} existing events kept as partition audit_logs_legacy (occurred_at before ${result.legacyUntil})` : ''
        process.stdout.write(`audit_logs partitioned by ${interval} in ${Date.now() - started} ms: ${result.partitions} partitions${legacy}\n`)
      } finally {
        await store.close()
      }
    })
}
