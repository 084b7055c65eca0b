import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

/**
 * The queue's client: one Redis server, or a Redis Cluster. Every key of one queue (one shard)
 * carries the same hash tag (`keys.ts`), so its scripts run on the one master that owns the slot,
 * and the code above this file treats both alike.
 */
export type QueueRedis = Redis | Cluster

/**
 * A client for the queue. The caller owns it and closes it; producers, consumers and the DLQ only
 * borrow it. Auto-pipelining stays off (ioredis' default): the producer already coalesces a turn's
 * events into one script call, and with 128 concurrent single-event callers auto-pipelining gave
 * the coalescing producer nothing measurable and slowed one-script-per-event calls by ~15%
 * (`bench/queue-producer.ts`). ioredis never waits for a reply before sending the next command, so
 * round trips overlap either way.
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { connectionName: 'auditq', ...options })
}

/**
 * The queue's client for a URL: one server, or with `cluster` a Redis Cluster the URL names one
 * node of (credentials and `rediss:` TLS apply to every node the client discovers). `options` are
 * per-connection settings in both cases.
 */
export function openQueueClient(target: { url: string; cluster?: boolean | undefined; clusterNodes?: readonly string[] | undefined }, options: RedisOptions = {}): QueueRedis {
  if (!target.cluster) return connectRedis(target.url, options)
  const url = new URL(target.url)
  const redisOptions: RedisOptions = {
    connectionName: 'auditq',
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    ...options,
  }
  const clusterOptions: ClusterOptions = {
    redisOptions,
    // Every queue command changes state or must see the latest: replicas are for failover only.
    scaleReads: 'master',
    ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
  }
  const startNodes = [`${url.hostname}:${url.port || 6379}`, ...(target.clusterNodes ?? [])].map((node) => {
    const at = node.lastIndexOf(':')
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) }
  })
  return new Cluster(startNodes, clusterOptions)
}

/** A second client of the same kind and target (for blocking reads that must not share a connection). */
export function duplicateClient(redis: QueueRedis, options: RedisOptions): QueueRedis {
  if (redis instanceof Cluster) return redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, ...options } })
  return redis.duplicate(options)
}
