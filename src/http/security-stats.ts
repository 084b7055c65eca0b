import type { FastifyInstance } from 'fastify'

/** Requests refused for access reasons, for metrics (observability wires these into Prometheus counters). */
export interface SecurityStats {
  /** 401: no valid API key. */
  unauthorized: number
  /** 403: a key without the scope, or asking for another tenant. */
  forbidden: number
  /** 429: over the per-key rate limit. */
  rateLimited: number
}

declare module 'fastify' {
  interface FastifyInstance {
    securityStats(): SecurityStats
  }
}

/**
 * Counts every access refusal as it is answered (each is also in the request log with its status):
 * a spike of 401s is a guessing attack or a leaked-then-revoked key still in use.
 */
export function installSecurityStats(app: FastifyInstance): void {
  const stats: SecurityStats = { unauthorized: 0, forbidden: 0, rateLimited: 0 }
  app.decorate('securityStats', () => ({ ...stats }))
  app.addHook('onResponse', async (_request, reply) => {
    if (reply.statusCode === 401) stats.unauthorized += 1
    else if (reply.statusCode === 403) stats.forbidden += 1
    else if (reply.statusCode === 429) stats.rateLimited += 1
  })
}
