import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { acknowledgeLosses, CAUSE_TEXT, openQueueClient, queueKeys, type QueueRedis, readLosses, type RedisLoss } from '../queue/redis-streams/index.js'
import { commandConfig } from './context.js'

function describeLoss(loss: RedisLoss): string {
  const seen = loss.lastSeenAt ? `stream length at ${loss.lastSeenAt}` : 'no earlier look to estimate from'
  return `${loss.id}  ${loss.detectedAt}  about ${loss.eventsExposed} events (${seen}); ${CAUSE_TEXT[loss.cause]}; noticed by ${loss.detectedBy}\n`
}

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('the Redis queue itself (queue mode)')

  const withRedis = async <T>(command: Command, fn: (redis: QueueRedis, keys: ReturnType<typeof queueKeys>) => Promise<T>): Promise<T> => {
    const config = commandConfig(command)
    if (!config.redisUrl) throw new AuditqError('AUDITQ_CONFIG', 'the queue lives in Redis: set AUDITQ_REDIS_URL (or --redis-url)')
    const redis = openQueueClient({ url: config.redisUrl, cluster: config.queue.cluster, clusterNodes: config.queue.clusterNodes }, { maxRetriesPerRequest: 1 })
    try {
      return await fn(redis, queueKeys({ prefix: config.queue.prefix, queue: config.queue.name }))
    } finally {
      redis.disconnect()
    }
  }

  queue
    .command('losses')
    .description('losses Redis caused (it restarted empty, or the keys were deleted) that nobody has acknowledged')
    .option('--format <format>', 'table | json', 'table')
    .action(async (options: { format: string }, command: Command) => {
      await withRedis(command, async (redis, keys) => {
        const losses = await readLosses(redis, keys)
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
      await withRedis(command, async (redis, keys) => {
        const acked = await acknowledgeLosses(redis, keys, options.all ? 'all' : options.id!)
        if (acked.length === 0) throw new AuditqError('AUDITQ_NOT_FOUND', options.all ? 'no recorded Redis loss to acknowledge' : `no recorded Redis loss with id ${options.id!.join(', ')}`)
        for (const loss of acked) process.stdout.write(`acknowledged ${describeLoss(loss)}`)
      })
    })
}
