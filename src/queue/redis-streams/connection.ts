import { Redis, type RedisOptions } from 'ioredis'

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
