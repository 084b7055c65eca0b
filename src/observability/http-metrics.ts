import type { FastifyInstance } from 'fastify'
import type { ServiceMetrics } from './metrics.js'

/** Times POST /v1/events from request to response (fastify's own clock), by status class. */
export function installIngestMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || request.routeOptions.url !== '/v1/events') return
    metrics.ingestDuration.labels(`${Math.floor(reply.statusCode / 100)}xx`).observe(reply.elapsedTime / 1000)
  })
}
