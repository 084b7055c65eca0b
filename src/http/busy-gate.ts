import type { FastifyReply } from 'fastify'
import { AuditqError } from '../errors.js'

/**
 * At most `limit` runs of an expensive read (a chain verification, a report) at once in this
 * process. A caller over the limit gets 429 with Retry-After instead of queueing: a queue would
 * hold connections and snapshots for work the caller may have given up on, and each run already
 * holds a store snapshot (on PostgreSQL, a connection and vacuum's horizon) while it lasts.
 */
export class BusyGate {
  private running = 0

  constructor(
    private readonly what: string,
    private readonly limit: number,
    private readonly retryAfterSeconds: number,
  ) {}

  async run<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      reply.header('retry-after', String(this.retryAfterSeconds))
      throw new AuditqError(
        'AUDITQ_RATE_LIMITED',
        `${this.what} limit reached: ${this.running} running in this process, at most ${this.limit}; retry in ${this.retryAfterSeconds} s`,
      )
    }
    this.running += 1
    try {
      return await work()
    } finally {
      this.running -= 1
    }
  }
}
