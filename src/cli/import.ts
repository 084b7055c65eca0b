import type { Command } from 'commander'
import { Redis } from 'ioredis'
import { AuditqError, isAuditqError } from '../errors.js'
import { assertPositiveInt, type ImportSummary, type ImportTarget } from '../import/core.js'
import { openStore } from '../store/open-store.js'
import { commandConfig, commandLogger, storeLocation } from './context.js'

/**
 * `auditq import`: moves events off the queues of older audit designs into the configured store
 * (embedded, or PostgreSQL with --database-url). It writes to the store directly, like
 * `auditq send`, also when queue mode is configured: the events are already queued history, and
 * the store's id check is what makes a re-run safe.
 */
const DEFAULT_SOURCE_REDIS = 'redis://127.0.0.1:6379'
/** Progress lines on stderr at most this often. */
const PROGRESS_EVERY_MS = 1_000

interface CommonFlags {
  redisUrl?: string
  batch: string
  dryRun?: boolean
  json?: boolean
}

export function registerImport(program: Command): void {
  const command = program.command('import').description('drain an older audit queue into auditq (at-least-once, resumable, never stores an event twice)')

  command
    .command('redis-list')
    .description('a Redis list fed with LPUSH of JSON events; taken oldest first')
    .requiredOption('--key <key>', 'the list, e.g. audit:queue')
    .option('--redis-url <url>', `the Redis holding the list (default ${DEFAULT_SOURCE_REDIS})`)
    .option('--batch <n>', 'items moved and stored per round trip', '500')
    .option('--dry-run', 'report what would be imported, change nothing')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: CommonFlags & { key: string }, sub: Command) => {
      const batch = Number(flags.batch)
      assertPositiveInt(batch, '--batch', 10_000)
      const { importRedisList } = await import('../import/redis-list.js')
      const redis = await connectSource(sourceUrl(sub))
      try {
        await run(sub, flags, `${flags.key}`, async (target, onProgress, signal) => {
          const result = await importRedisList(target, { redis, key: flags.key, batch, dryRun: flags.dryRun, onProgress, signal })
          return { summary: result, setAsideIn: `Redis list ${result.failedKey}` }
        })
      } finally {
        redis.disconnect()
      }
    })

  command
    .command('bullmq')
    .description('a BullMQ queue of process-log-event / process-bulk-log-events jobs (needs the bullmq package)')
    .requiredOption('--queue <name>', 'the queue name')
    .option('--prefix <prefix>', 'BullMQ key prefix', 'bull')
    .option('--redis-url <url>', `the Redis holding the queue (default ${DEFAULT_SOURCE_REDIS})`)
    .option('--batch <n>', 'jobs taken and stored per round', '100')
    .option('--lock-ms <ms>', 'BullMQ lock on the jobs being imported; a crashed run\'s jobs return to the queue after it', '30000')
    .option('--dry-run', 'report what would be imported, change nothing')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: CommonFlags & { queue: string; prefix: string; lockMs: string }, sub: Command) => {
      const batch = Number(flags.batch)
      assertPositiveInt(batch, '--batch', 10_000)
      const lockMs = Number(flags.lockMs)
      assertPositiveInt(lockMs, '--lock-ms', 3_600_000)
      const { importBullmq } = await import('../import/bullmq.js')
      // BullMQ retries a lost connection for ever: check the source answers before handing it over.
      ;(await connectSource(sourceUrl(sub))).disconnect()
      await run(sub, flags, `${flags.prefix}:${flags.queue}`, async (target, onProgress, signal) => {
        const summary = await importBullmq(target, { redisUrl: sourceUrl(sub), queue: flags.queue, prefix: flags.prefix, batch, lockMs, dryRun: flags.dryRun, onProgress, signal })
        return { summary, setAsideIn: 'the queue\'s failed jobs (reason starts "auditq import:")' }
      })
    })
}

/** A client for the source Redis, or a clear error naming where it looked (credentials left out). */
async function connectSource(url: string): Promise<Redis> {
  let connected = false
  const redis = new Redis(url, {
    connectionName: 'auditq-import',
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: 3,
    // No retries before the first answer (the error is the answer); a later drop reconnects.
    retryStrategy: (times) => (connected ? Math.min(times * 200, 2_000) : null),
  })
  // Failures surface as rejected commands; without a listener ioredis would also print each one.
  let lastError: Error | undefined
  redis.on('error', (error: Error) => (lastError = error))
  try {
    await redis.connect()
    await redis.ping()
    connected = true
    return redis
  } catch (error) {
    redis.disconnect()
    throw new AuditqError('AUDITQ_IMPORT_SOURCE_UNREACHABLE', `cannot reach the Redis holding the queue at ${describeUrl(url)}: ${(lastError ?? (error as Error)).message}`, { cause: error })
  }
}

function describeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.host}${parsed.pathname.length > 1 ? parsed.pathname : ''}`
  } catch {
    return '(an unparsable --redis-url)'
  }
}

/** The source Redis: this command's --redis-url (commander may file it under the global flag of that name). */
function sourceUrl(command: Command): string {
  return command.optsWithGlobals<{ redisUrl?: string }>().redisUrl ?? DEFAULT_SOURCE_REDIS
}

type Runner = (target: ImportTarget, onProgress: (summary: Readonly<ImportSummary>) => void, signal: AbortSignal) => Promise<{ summary: ImportSummary; setAsideIn: string }>

async function run(command: Command, flags: CommonFlags, source: string, runner: Runner): Promise<void> {
  const config = commandConfig(command)
  const logger = commandLogger(config)
  const store = await openStore({ ...storeLocation(config), applicationName: 'auditq-import', logger })
  // Ctrl-C / SIGTERM: finish the batch in hand, hand back what is held, print the summary.
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let lastProgress = 0
  const onProgress = (summary: Readonly<ImportSummary>) => {
    if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return
    lastProgress = Date.now()
    process.stderr.write(`import ${source}: ${describe(summary, flags.dryRun)}\n`)
  }
  try {
    const target: ImportTarget = {
      store,
      defaultTenant: config.defaultTenant,
      redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation },
    }
    const { summary, setAsideIn } = await runner(target, onProgress, stop.signal).catch((error: unknown) => {
      if (isAuditqError(error) && error.code === 'AUDITQ_STORE_UNAVAILABLE') {
        // What was in flight is still in the source (processing list, or held jobs): say so.
        throw new AuditqError(error.code, `${error.message}; nothing was removed from the source that is not stored: run the same command again to resume`, { cause: error })
      }
      throw error
    })
    const { imported, duplicates, invalid, remaining, skipped } = summary
    if (flags.json) process.stdout.write(JSON.stringify({ source, dry_run: flags.dryRun === true, imported, duplicates, invalid, remaining, skipped, set_aside_in: setAsideIn }) + '\n')
    else process.stdout.write(`${flags.dryRun ? 'dry run, nothing changed: ' : ''}${describe(summary, flags.dryRun)}\n`)
    if (stop.signal.aborted) process.stderr.write('stopped on a signal with nothing in flight; run the same command again to continue\n')
    if (summary.invalid > 0 && !flags.dryRun) {
      // Not lost, but not in auditq either: someone has to look at them.
      logger.warn({ source, invalid: summary.invalid, set_aside_in: setAsideIn }, 'import set aside events that failed validation')
      process.stderr.write(`${summary.invalid} invalid item(s) were set aside with their reasons in ${setAsideIn}\n`)
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await store.close()
  }
}

function describe(summary: Readonly<ImportSummary>, dryRun?: boolean): string {
  const verb = dryRun ? 'would import' : 'imported'
  const parts = [`${verb} ${summary.imported}`, `duplicates skipped ${summary.duplicates}`, `invalid ${summary.invalid}`, `remaining ${summary.remaining}`]
  if (summary.skipped > 0) parts.push(`other jobs left in the queue ${summary.skipped}`)
  return parts.join(', ')
}
