import { CONFIG_DEFAULTS } from '../../config.js'
import { AuditqError } from '../../errors.js'

/**
 * The one place that knows the Redis key layout. Every key of a queue carries the same Redis
 * Cluster hash tag (`{queue}`), so all of them live in one slot and a Lua script may touch any of
 * them atomically — the precondition for every script in `lua.ts`.
 *
 *   auditq:{default}:events        stream, XADD by producers, read by the consumer group
 *   auditq:{default}:dlq           stream of dead letters (payload, error, attempts, source id)
 *   auditq:{default}:counters      hash of shared counters (overflow, spilled, dropped, …)
 *   auditq:{default}:workers       sorted set: worker id → last heartbeat (Redis time, ms)
 *   auditq:{default}:worker:<id>   string with that worker's figures, expiring with its heartbeat
 *   auditq:{default}:identity      string: a random id set once, whose disappearance means Redis lost the queue
 *   auditq:{default}:losses        hash: loss id → JSON of a detected loss not yet acknowledged
 *   auditq:{default}:losses-acked  set of acknowledged loss ids (so processes holding a copy drop it)
 *   auditq:{default}:shards        set of the other shards' hash tags any process has used (home shard only: see shards.ts)
 */
export interface QueueKeys {
  readonly events: string
  readonly deadLetters: string
  readonly counters: string
  readonly workers: string
  /** Canary of the queue's data: see reset-watch.ts. */
  readonly identity: string
  readonly losses: string
  readonly lossesAcked: string
  /** On the home shard: the tags of every other shard producers or workers have used (shards.ts). */
  readonly shards: string
  /** Consumer group name on `events`; one group, because every event goes to the store once. */
  readonly group: string
  worker(workerId: string): string
}

export interface KeyLayoutOptions {
  /** Namespace shared by everything auditq keeps in this Redis (default `auditq`). */
  prefix?: string
  /** Queue name, used as the hash tag; several deployments can share a Redis with distinct names. */
  queue?: string
}

const GROUP = 'auditq-workers'

export function queueKeys(options: KeyLayoutOptions = {}): QueueKeys {
  const prefix = options.prefix ?? CONFIG_DEFAULTS.queue.prefix
  const queue = options.queue ?? CONFIG_DEFAULTS.queue.name
  // A brace inside the name would move the hash tag and scatter keys over slots.
  for (const [name, value] of [['prefix', prefix], ['queue', queue]] as const) {
    if (value === '' || /[{}]/.test(value)) {
      throw new AuditqError('AUDITQ_CONFIG', `redis ${name} must be non-empty and free of braces, got ${JSON.stringify(value)}`)
    }
  }
  const base = `${prefix}:{${queue}}`
  return Object.freeze({
    events: `${base}:events`,
    deadLetters: `${base}:dlq`,
    counters: `${base}:counters`,
    workers: `${base}:workers`,
    identity: `${base}:identity`,
    losses: `${base}:losses`,
    lossesAcked: `${base}:losses-acked`,
    shards: `${base}:shards`,
    group: GROUP,
    worker: (workerId: string) => `${base}:worker:${workerId}`,
  })
}
