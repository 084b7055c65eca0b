import type { FastifyInstance } from 'fastify'
import { AuditqError } from '../errors.js'
import type { RedisLoss } from '../queue/redis-streams/index.js'
import { ADVISORY_RULES, atLeast, worstStatus, type HealthStatus } from '../observability/health-rules.js'
import type { ServiceMetrics } from '../observability/metrics.js'
import type { PipelineSampler, PipelineView } from '../observability/sampler.js'
import type { Store } from '../store/store.js'
import { hasScope } from './principal.js'
import { documented } from './contract/contract.js'
import { monitoringContracts } from './contract/monitoring.js'

export interface MonitoringOptions {
  store: Store
  sampler: PipelineSampler
  metrics: ServiceMetrics
  /** The least severe status that answers 503 on /health. */
  healthFailFrom: Exclude<HealthStatus, 'healthy'>
  /** Queue mode: clears recorded Redis losses (the `redis_data_lost` finding); returns those cleared. */
  acknowledgeRedisLosses?: (ids: string[] | 'all') => Promise<RedisLoss[]>
}

/**
 * The monitoring endpoints, in the shapes legacy dashboards read. Status vocabulary, best to worst: healthy < warning < degraded
 * < critical; the status is always the worst finding (health-rules.ts).
 */
export async function monitoringRoutes(app: FastifyInstance, options: MonitoringOptions): Promise<void> {
  const { sampler } = options
  const contracts = new Map(monitoringContracts().map((contract) => [`${contract.method} ${contract.url}`, contract]))
  const route = (key: string): ReturnType<typeof documented> => {
    const contract = contracts.get(key)
    if (!contract) throw new Error(`no contract for ${key}`)
    return documented(contract)
  }

  /**
   * Public, for load balancers: everyone gets the status and which services are up; only a caller
   * with the admin scope also gets the issues and figures. 503 from `healthFailFrom` up.
   */
  app.get('/api/v1/monitoring/health', route('GET /api/v1/monitoring/health'), async (request, reply) => {
    // Unauthenticated and polled by load balancers: concurrent requests share one read (see
    // sampler.current), so a flood cannot starve ingest of store connections.
    const view = await sampler.current()
    const { status } = view.evaluation
    const body: Record<string, unknown> = { status, services: services(view), timestamp: new Date(view.reading.at).toISOString() }
    if (hasScope(request, 'admin')) {
      const { reading, figures } = view
      body.issues = view.evaluation.issues
      body.store = { kind: options.store.kind }
      body.pipeline =
        reading.mode === 'queue'
          ? {
              mode: 'queue',
              queue_length: figures.queue_length,
              oldest_event_age_seconds: figures.oldest_event_age_seconds,
              dead_letters: figures.dead_letters,
              live_workers: figures.live_workers,
              redis_crash_loses: reading.redisLossWindow,
              spilled: reading.sdk.spilled,
              replayed: reading.sdk.replayed,
              shards: reading.queueShards ?? null,
            }
          : { mode: 'direct', pending: reading.sdk.pending, stored: reading.sdk.stored, failed: reading.sdk.failed }
    }
    const gating = worstStatus(view.evaluation.findings.filter((f) => !ADVISORY_RULES.has(f.rule)).map((f) => f.status))
    return reply.status(gating !== 'healthy' && atLeast(gating, options.healthFailFrom) ? 503 : 200).send(body)
  })

  /**
   * Acknowledges Redis losses, as `auditq queue ack-loss` does: body `{"ids": [...]}` or
   * `{"all": true}`. Admin only: it clears a critical finding and resolves its alert.
   */
  app.post('/api/v1/monitoring/redis-losses/ack', route('POST /api/v1/monitoring/redis-losses/ack'), async (request) => {
    const acknowledge = options.acknowledgeRedisLosses
    if (!acknowledge) throw new AuditqError('AUDITQ_NOT_FOUND', 'no Redis queue here: Redis losses exist only in queue mode')
    const body = (request.body ?? {}) as { ids?: unknown; all?: unknown }
    const ids = Array.isArray(body.ids) && body.ids.length > 0 && body.ids.every((id) => typeof id === 'string') ? (body.ids as string[]) : undefined
    if (body.all !== true && ids === undefined) throw new AuditqError('AUDITQ_BAD_REQUEST', 'ids (a non-empty array of loss ids) or all: true is required')
    const acknowledged = await acknowledge(body.all === true ? 'all' : ids!)
    if (acknowledged.length === 0) throw new AuditqError('AUDITQ_NOT_FOUND', 'no recorded Redis loss matches')
    return { acknowledged }
  })

  /** The monitoring summary (dashboard, `auditq status`): health, metrics, recommendations. Always 200: the body carries the status. */
  const auditMetrics = async () => {
    const { reading, figures, evaluation } = await sampler.current()
    return {
      health: { status: evaluation.status, issues: evaluation.issues, findings: evaluation.findings },
      services: services({ reading }),
      metrics: figures,
      recommendations: evaluation.recommendations,
      timestamp: new Date(reading.at).toISOString(),
    }
  }
  app.get('/api/v1/monitoring/audit-metrics', route('GET /api/v1/monitoring/audit-metrics'), auditMetrics)
  // The path from before the API was versioned: dashboards and scripts written against it keep
  // working. Same handler, same admin scope.
  app.get('/api/monitoring/audit-metrics', route('GET /api/monitoring/audit-metrics'), auditMetrics)

  /**
   * Prometheus text exposition. Admin scope like the other figures (Prometheus sends a bearer
   * token via `authorization`); with no keys configured (the open loopback mode) it is open.
   */
  app.get('/metrics', route('GET /metrics'), async (_request, reply) => {
    const { registry } = options.metrics
    return reply.header('content-type', registry.contentType).send(await registry.metrics())
  })

  /** The sampler's ring buffer, oldest first: what the dashboard's charts draw. */
  app.get('/api/v1/monitoring/history', route('GET /api/v1/monitoring/history'), async () => ({
    interval_ms: sampler.intervalMs,
    samples: sampler.history(),
  }))
}

function services({ reading }: Pick<PipelineView, 'reading'>): Record<string, string> {
  if (reading.mode === 'direct') return { store: reading.store, redis: 'not used (direct mode)', audit_worker: 'not used (direct mode)' }
  return {
    store: reading.store,
    redis: reading.redis ?? 'unreachable',
    // With Redis unreachable no heartbeat can be read: say so rather than "not running".
    audit_worker: reading.redis !== 'connected' ? 'unknown' : reading.workers.length > 0 ? 'running' : 'not running',
  }
}
