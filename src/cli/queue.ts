import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { readShard, totals } from '../queue/queue-status.js'
import { acknowledgeShardLosses, CAUSE_TEXT, configuredShards, knownShards, openQueueClient, type QueueRedis, type QueueShard, readShardLosses, type RedisLoss } from '../queue/redis-streams/index.js'
import { commandConfig } from './context.js'

function describeLoss(loss: RedisLoss): string {
  const seen = loss.lastSeenAt ? `stream length at ${loss.lastSeenAt}` : 'no earlier look to estimate from'
  const shard = loss.shard ? `shard ${loss.shard}: ` : ''
  return `${loss.id}  ${loss.detectedAt}  ${shard}about ${loss.eventsExposed} events (${seen}); ${CAUSE_TEXT[loss.cause]}; noticed by ${loss.detectedBy}\n`
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('the Redis queue itself (queue mode)')

  /** `fn` gets every shard: the configured ones, then any still draining from a higher count. */
  const withRedis = async <T>(command: Command, fn: (redis: QueueRedis, shards: QueueShard[]) => Promise<T>): Promise<T> => {
    const config = commandConfig(command)
    if (!config.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'the queue lives in Redis: set AUDITQ_REDIS_URL (or --redis-url)')
    const redis = openQueueClient({ url: config.redisUrl, cluster: config.queue.cluster, clusterNodes: config.queue.clusterNodes }, { maxRetriesPerRequest: 1 })
    try {
      return await fn(redis, await knownShards(redis, configuredShards(config.queue)))
    } finally {
      redis.disconnect()
    }
  }

  queue
    .command('losses')
    .description('losses Redis caused (it restarted empty, or the keys were deleted) that nobody has acknowledged')
    .option('--format <format>', 'table | json', 'table')
    .action(async (options: { format: string }, command: Command) => {
      await withRedis(command, async (redis, shards) => {
        const losses = await readShardLosses(redis, shards)
        if (options.format === 'json') process.stdout.write(JSON.stringify({ losses }, null, 2) + '\n')
        else if (losses.length === 0) process.stdout.write('no unacknowledged Redis losses\n')
        else for (const loss of losses) process.stdout.write(describeLoss(loss))
      })
    })

  queue
    .command('ack-loss')
    .description('acknowledge Redis losses once accounted for: clears the redis_data_lost finding and resolves its alert')
    .option('--id <id...>', 'the loss ids to acknowledge (see `auditq queue losses`)')
    .option('--all', 'acknowledge every recorded loss')
    .action(async (options: { id?: string[]; all?: boolean }, command: Command) => {
      if (!options.all && (options.id === undefined || options.id.length === 0)) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', 'ack-loss needs --id <id>… or --all')
      }
      await withRedis(command, async (redis, shards) => {
        const acked = await acknowledgeShardLosses(redis, shards, options.all ? 'all' : options.id!)
        if (acked.length === 0) throw new AuditqError('AUDITQ_NOT_FOUND', options.all ? 'no recorded Redis loss to acknowledge' : `no recorded Redis loss with id ${options.id!.join(', ')}`)
        for (const loss of acked) process.stdout.write(`acknowledged ${describeLoss(loss)}`)
      })
    })

  queue
    .command('shards')
    .description('the queue per shard: entries, pending, dead letters, oldest entry and, on a Redis Cluster, the master holding it; then the totals')
    .option('--format <format>', 'table | json', 'table')
    .action(async (options: { format: string }, command: Command) => {
      await withRedis(command, async (redis, shards) => {
        const parts = await Promise.all(shards.map((shard) => readShard(redis, shard)))
        const total = totals(parts)
        if (options.format === 'json') {
          process.stdout.write(JSON.stringify({ shards: parts, total }, null, 2) + '\n')
          return
        }
        for (const part of parts) {
          const age = part.oldestEventAgeMs === null ? '-' : `${Math.round(part.oldestEventAgeMs / 1000)}s`
          const where = part.node ? `  master ${part.node}` : ''
          const draining = part.current ? '' : '  (beyond the configured count: draining)'
          process.stdout.write(`${part.shard}  slot ${part.slot}${where}  length ${part.length}  pending ${part.pending}  dead letters ${part.deadLetters}  oldest ${age}${draining}\n`)
        }
        process.stdout.write(`total  length ${total.queueLength}  dead letters ${total.deadLetters}  overflow ${total.counters.overflow}  dead-lettered ${total.counters.dead_lettered}  replayed ${total.counters.replayed}\n`)
      })
    })
}
