/**
 * `auditq search status` and `auditq search backfill`: events stored before word search existed
 * have no search document, and searches miss them until it is filled in.
 */
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { runSearchBackfill, type SearchBackfillSource } from '../query/search/backfill.js'
import type { Store } from '../store/store.js'
import { commandConfig, openExistingStore } from './context.js'
import { progress } from './progress.js'

interface BackfillFlags {
  batchRows?: string
  pauseMs?: string
  json?: boolean
}

export function registerSearch(program: Command): void {
  const search = program.command('search').description('word search upkeep: events stored before search existed')

  search
    .command('status')
    .description('count the events without a search document (not found by word search); exit 0 none, 1 some')
    .option('--json', 'print the count as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const unindexed = await withSource(command, (source) => source.countUnindexed())
      process.stdout.write(flags.json ? `${JSON.stringify({ unindexed_events: unindexed })}\n` : unindexed === 0 ? 'every event has its search document\n' : `${unindexed} events have no search document: run \`auditq search backfill\`\n`)
      if (unindexed > 0) process.exitCode = 1
    })

  search
    .command('backfill')
    .description('give events stored before word search existed their search document, in small transactions; resumable (stop it any time, run it again to go on)')
    .option('--batch-rows <n>', 'events per transaction (default search.backfillBatchRows, AUDITQ_SEARCH_BACKFILL_BATCH_ROWS)')
    .option('--pause-ms <ms>', 'pause between transactions, to leave the store to ingest (default 0)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: BackfillFlags, command: Command) => {
      const config = commandConfig(command)
      const batchRows = positiveInt(flags.batchRows, '--batch-rows', 1, 10_000) ?? config.search.backfillBatchRows
      const pauseMs = positiveInt(flags.pauseMs, '--pause-ms', 0, 60_000) ?? 0
      // Ctrl-C ends the current transaction and stops; what was filled stays filled.
      const abort = new AbortController()
      const onSignal = () => abort.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        const report = await withSource(command, async (source) => {
          const total = await source.countUnindexed()
          const bar = progress({ label: 'search backfill', total })
          let shown = 0
          const result = await runSearchBackfill(source, {
            batchRows,
            pauseMs,
            signal: abort.signal,
            onBatch: (p) => {
              bar.tick(p.filled - shown)
              shown = p.filled
            },
          })
          bar.done()
          return result
        })
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ filled: report.filled, remaining: report.remaining, batches: report.batches, stopped: report.stopped, duration_ms: report.durationMs })}\n`)
        } else {
          const verb = report.stopped ? 'stopped after filling' : 'filled'
          process.stdout.write(`${verb} ${report.filled} search documents in ${report.batches} transactions (${report.durationMs} ms); ${report.remaining === 0 ? 'every event has its search document' : `${report.remaining} events still have none`}\n`)
        }
        if (report.remaining > 0) process.exitCode = 1
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
}

async function withSource<T>(command: Command, fn: (source: SearchBackfillSource) => Promise<T>): Promise<T> {
  const store: Store = await openExistingStore(commandConfig(command))
  try {
    if (!store.searchBackfill) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store has no search backfill`)
    return await fn(store.searchBackfill)
  } finally {
    await store.close()
  }
}

function positiveInt(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', `${flag} must be a whole number from ${min} to ${max}; got ${JSON.stringify(text.slice(0, 40))}`)
  }
  return value
}
