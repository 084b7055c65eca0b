import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { configuredShards, knownShards, openQueueClient, ShardedDeadLetters } from '../queue/redis-streams/index.js'
import { commandConfig, openExistingStore } from './context.js'
import { purgeDeadLetters } from './dlq-purge.js'
import { progress } from './progress.js'
import { recordCliAccess } from './trail.js'

/**
 * Runs `fn` against the dead-letter queues of every shard (the configured ones and any still
 * draining) and closes the connection afterwards.
 */
async function withDeadLetters<T>(command: Command, fn: (dlq: ShardedDeadLetters) => Promise<T>): Promise<T> {
  const config = commandConfig(command)
  if (!config.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'the dead-letter queue lives in Redis: set AUDITQ_REDIS_URL (or --redis-url)')
  const redis = openQueueClient({ url: config.redisUrl, cluster: config.queue.cluster, clusterNodes: config.queue.clusterNodes }, { maxRetriesPerRequest: 1 })
  try {
    return await fn(new ShardedDeadLetters(redis, await knownShards(redis, configuredShards(config.queue))))
  } finally {
    redis.disconnect()
  }
}

function idsOrAll(ids: string[], options: { all?: boolean }, verb: string): string[] | 'all' {
  if (options.all) return 'all'
  if (ids.length === 0) throw new AuditqError('AUDITQ_BAD_REQUEST', `give the dead-letter ids to ${verb}, or --all`)
  return ids
}

export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('inspect and act on events that failed on their own (queue mode)')

  dlq
    .command('list')
    .description('dead letters, oldest first, over every shard (ids of shards other than the first end in @<shard>)')
    .option('--limit <n>', 'how many', '50')
    .option('--after <id>', 'continue after this dead-letter id')
    .option('--format <format>', 'table | json', 'table')
    .action(async (options: { limit: string; after?: string; format: string }, command: Command) => {
      const limit = Number(options.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new AuditqError('AUDITQ_BAD_REQUEST', '--limit must be 1–1000')
      await withDeadLetters(command, async (queue) => {
        const page = await queue.list({ limit, ...(options.after ? { after: options.after } : {}) })
        if (options.format === 'json') {
          process.stdout.write(JSON.stringify({ total: await queue.size(), shards: await queue.sizes(), ...page }, null, 2) + '\n')
          return
        }
        if (page.deadLetters.length === 0) process.stdout.write('the dead-letter queue is empty\n')
        for (const letter of page.deadLetters) {
          const what = letter.event ? `${letter.event.action} ${letter.event.id}` : '(undecodable payload)'
          process.stdout.write(`${letter.id}  ${letter.deadLetteredAt}  ${what}\n    error: ${letter.error.slice(0, 200)}\n`)
        }
        if (page.next) process.stderr.write(`more: --after ${page.next}\n`)
      })
    })

  dlq
    .command('show <id>')
    .description('one dead letter in full (event, error, attempts)')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withDeadLetters(command, async (queue) => {
        const letter = await queue.get(id)
        if (!letter) throw new AuditqError('AUDITQ_NOT_FOUND', `no dead letter ${id}`)
        process.stdout.write(JSON.stringify(letter, null, 2) + '\n')
      })
    })

  dlq
    .command('replay [ids...]')
    .description('move dead letters back to the queue, each into its own shard (after fixing what refused them)')
    .option('--all', 'every dead letter')
    .action(async (ids: string[], options: { all?: boolean }, command: Command) => {
      const chosen = idsOrAll(ids, options, 'replay')
      await withDeadLetters(command, async (queue) => {
        let moved = 0
        const bar = progress({ label: 'dlq replay', total: chosen === 'all' ? await queue.size() : chosen.length })
        if (chosen === 'all') {
          // Page by id: replayed letters leave the stream, so each page starts from the beginning.
          for (;;) {
            const page = await queue.list({ limit: 500 })
            if (page.deadLetters.length === 0) break
            const replayed = (await queue.replay(page.deadLetters.map((l) => l.id))).size
            moved += replayed
            bar.tick(replayed)
          }
        } else {
          moved = (await queue.replay(chosen)).size
          bar.tick(moved)
        }
        bar.done()
        process.stdout.write(`replayed ${moved} dead letter(s) into the queue\n`)
      })
    })

  dlq
    .command('purge [ids...]')
    .description('delete dead letters for good; their producer numbers are recorded as purged first (see `auditq completeness`)')
    .option('--all', 'every dead letter')
    .action(async (ids: string[], options: { all?: boolean }, command: Command) => {
      const chosen = idsOrAll(ids, options, 'purge')
      const config = commandConfig(command)
      // The store takes the purge records and the access trail's record of the purge.
      const store = await openExistingStore(config)
      try {
        await recordCliAccess(store, config, 'dlq.purge', null, chosen === 'all' ? { all: true } : { ids: chosen })
        await withDeadLetters(command, async (queue) => {
          const result = await purgeDeadLetters({ queue, store, ids: chosen })
          const notes = [`${result.numbered} producer number(s) recorded as purged`, ...(result.undecodable > 0 ? [`${result.undecodable} not an event (nothing to record)`] : [])]
          process.stdout.write(`purged ${result.purged} dead letter(s); ${notes.join('; ')}\n`)
          if (result.stalled) {
            process.stderr.write('stopped early: a page of dead letters was listed but none of it could be deleted, and dead letters are still listed; run `auditq dlq list` to see them\n')
            process.exitCode = 1
          }
        })
      } finally {
        await store.close()
      }
    })
}
