import { Cluster, type Redis } from 'ioredis'
import type { QueueRedis } from './connection.js'

/**
 * What "accepted" is worth in queue mode: an event is acknowledged to the caller once Redis holds
 * it, so a Redis crash (not a worker crash — workers lose nothing) loses what Redis had not yet
 * persisted. Read once at start and logged; the caller decides whether to refuse to start.
 */
export interface PersistenceSettings {
  appendonly: string
  appendfsync: string
  /** RDB snapshot rules, e.g. `3600 1 300 100`; empty when snapshots are off. */
  save: string
  maxmemoryPolicy: string
}

/**
 * What a Redis crash would lose of the queued events:
 * - `everything-queued`: no persistence, the queue starts empty after a restart;
 * - `since-last-snapshot`: RDB only — writes since the last snapshot (minutes, by the `save`
 *   rules), and the restart replays events already stored (harmless: the store ignores duplicates);
 * - `about-1s`: AOF with `appendfsync everysec`, Redis' default AOF setting;
 * - `os-flush-interval`: AOF with `appendfsync no` — whatever the OS had not flushed (~30 s on Linux);
 * - `nothing`: AOF with `appendfsync always`: each write is fsynced before Redis replies;
 * - `unknown`: CONFIG is disabled (managed Redis); ask the provider.
 * A failover to an asynchronous replica can lose recent writes whatever these settings say.
 */
export type LossWindow = 'everything-queued' | 'since-last-snapshot' | 'about-1s' | 'os-flush-interval' | 'nothing' | 'unknown'

export interface DurabilityReport {
  /** Null when Redis refused CONFIG GET. */
  settings: PersistenceSettings | null
  lossWindow: LossWindow
  /**
   * Whether Redis may evict the queue's own keys when it reaches `maxmemory`: true for `allkeys-*`
   * policies. `volatile-*` evict only keys with a TTL (the queue's keys have none, only worker
   * heartbeats do), and `noeviction` refuses writes instead — the producer then sees an error and
   * the SDK's policy applies, which is what a lossless queue needs.
   */
  evictsQueue: boolean | 'unknown'
  /** One line for the start-up log. */
  summary: string
}

/** Pure: the report for given settings (null = unknown). */
export function describeDurability(settings: PersistenceSettings | null): DurabilityReport {
  if (settings === null) {
    return {
      settings,
      lossWindow: 'unknown',
      evictsQueue: 'unknown',
      summary: 'Redis refused CONFIG GET (managed Redis?): persistence and eviction policy unknown; check them with the provider',
    }
  }
  const lossWindow = lossWindowOf(settings)
  const evictsQueue = settings.maxmemoryPolicy.startsWith('allkeys-')
  const eviction = evictsQueue
    ? `maxmemory-policy ${settings.maxmemoryPolicy} may evict queued events`
    : `maxmemory-policy ${settings.maxmemoryPolicy} does not evict queued events`
  return { settings, lossWindow, evictsQueue, summary: `a Redis crash loses ${LOSS_TEXT[lossWindow]}; ${eviction}` }
}

const LOSS_TEXT: Record<LossWindow, string> = {
  'everything-queued': 'every queued event (no persistence)',
  'since-last-snapshot': 'events queued since the last RDB snapshot (AOF is off)',
  'about-1s': 'about the last second of queued events (AOF, fsync every second)',
  'os-flush-interval': 'what the OS had not flushed, ~30 s on Linux (AOF, appendfsync no)',
  nothing: 'nothing Redis acknowledged (AOF, fsync always)',
  unknown: 'an unknown amount',
}

function lossWindowOf(settings: PersistenceSettings): LossWindow {
  if (settings.appendonly === 'yes') {
    if (settings.appendfsync === 'always') return 'nothing'
    if (settings.appendfsync === 'everysec') return 'about-1s'
    return 'os-flush-interval'
  }
  return settings.save.trim() === '' ? 'everything-queued' : 'since-last-snapshot'
}

/**
 * Reads the settings with one CONFIG GET. A server that refuses the command (renamed or disabled
 * CONFIG, missing ACL permission) gives an `unknown` report; a connection failure still throws,
 * because that says nothing about persistence.
 */
export async function readDurability(redis: QueueRedis): Promise<DurabilityReport> {
  if (redis instanceof Cluster) return readClusterDurability(redis)
  return readNodeDurability(redis)
}

/** Worst first: the order in which a loss window is reported when cluster nodes disagree. */
const WORST_FIRST: readonly LossWindow[] = ['everything-queued', 'since-last-snapshot', 'os-flush-interval', 'unknown', 'about-1s', 'nothing']

/**
 * A cluster loses what its weakest node would lose: after a failover the replica's settings are
 * the ones that count, so every node is read, masters and replicas alike, and the worst is
 * reported with the node that has it. The summary also names the failover window, which no
 * persistence setting closes: only `queue.replicaAcks` does.
 */
async function readClusterDurability(cluster: Cluster): Promise<DurabilityReport> {
  const nodes = cluster.nodes('all')
  if (nodes.length === 0) throw new Error('redis cluster: no node known yet')
  const reports = await Promise.all(nodes.map(async (node) => ({ node: `${node.options.host}:${node.options.port}`, report: await readNodeDurability(node) })))
  reports.sort((a, b) => WORST_FIRST.indexOf(a.report.lossWindow) - WORST_FIRST.indexOf(b.report.lossWindow))
  const worst = reports[0]!
  const evicting = reports.find((r) => r.report.evictsQueue === true)
  const evictsQueue = evicting ? true : reports.some((r) => r.report.evictsQueue === 'unknown') ? 'unknown' : false
  return {
    ...worst.report,
    ...(evicting ? { settings: evicting.report.settings } : {}),
    evictsQueue,
    summary: `redis cluster of ${reports.length} nodes, worst ${worst.node}: ${worst.report.summary}; a master failover also loses writes its replica had not received, unless queue.replicaAcks is at least 1`,
  }
}

async function readNodeDurability(redis: Redis): Promise<DurabilityReport> {
  let reply: string[]
  try {
    reply = (await redis.config('GET', 'appendonly', 'appendfsync', 'save', 'maxmemory-policy')) as string[]
  } catch (error) {
    if (isRefusal(error)) return describeDurability(null)
    throw error
  }
  const values = new Map<string, string>()
  for (let i = 0; i + 1 < reply.length; i += 2) values.set(reply[i]!, reply[i + 1]!)
  const appendonly = values.get('appendonly')
  const maxmemoryPolicy = values.get('maxmemory-policy')
  // Some providers answer CONFIG GET with an empty list rather than an error.
  if (appendonly === undefined || maxmemoryPolicy === undefined) return describeDurability(null)
  return describeDurability({
    appendonly,
    appendfsync: values.get('appendfsync') ?? 'everysec',
    save: values.get('save') ?? '',
    maxmemoryPolicy,
  })
}

/** An error reply from Redis (unknown command, NOPERM), as opposed to a connection failure. */
function isRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}
