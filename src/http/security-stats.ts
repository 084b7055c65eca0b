import type { FastifyInstance } from 'fastify'
import type { SecurityStats } from '../observability/security-stats.js'

/** Refusals made outside fastify's request cycle (the HTTP parser's timeout) or that a status alone cannot tell apart (503). */
export interface SecurityCounters {
  countOverloaded(): void
  countRequestTimeout(): void
}

declare module 'fastify' {
  interface FastifyInstance {
    securityStats(): SecurityStats
  }
}

/**
 * Counts every access refusal as it is answered (each is also in the request log with its status):
 * a spike of 401s is a guessing attack or a leaked-then-revoked key still in use; one of 408s or
 * 503 overloads is slow or oversized uploads holding the service's body budget.
 */
export function installSecurityStats(app: FastifyInstance): SecurityCounters {
  const stats: SecurityStats = { unauthorized: 0, forbidden: 0, rateLimited: 0, overloaded: 0, requestTimeouts: 0 }
  app.decorate('securityStats', () => ({ ...stats }))
  app.addHook('onResponse', async (_request, reply) => {
    if (reply.statusCode === 401) stats.unauthorized += 1
    else if (reply.statusCode === 403) stats.forbidden += 1
    else if (reply.statusCode === 429) stats.rateLimited += 1
  })
  return {
    countOverloaded: () => void (stats.overloaded += 1),
    countRequestTimeout: () => void (stats.requestTimeouts += 1),
  }
}
