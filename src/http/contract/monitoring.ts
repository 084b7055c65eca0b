/** The contracts of the monitoring endpoints (health, summary, history, Prometheus, Redis-loss acknowledgement). */
import { z } from 'zod'
import type { RouteContract } from './contract.js'

const STATUS = z.enum(['healthy', 'warning', 'degraded', 'critical'])

const HealthSchema = z
  .looseObject({
    status: STATUS,
    services: z.record(z.string(), z.string()),
    timestamp: z.string(),
    issues: z.array(z.string()).optional().describe('Admin scope only, like `store` and `pipeline`.'),
  })
  .meta({ id: 'Health' })

const HEALTH_EXAMPLE = { status: 'healthy', services: { store: 'connected', redis: 'not used (direct mode)', audit_worker: 'not used (direct mode)' }, timestamp: '2026-11-23T09:00:00.000Z' }

const AuditMetricsSchema = z
  .looseObject({
    health: z.looseObject({ status: STATUS, issues: z.array(z.string()), findings: z.array(z.looseObject({})) }),
    services: z.record(z.string(), z.string()),
    metrics: z.looseObject({}),
    recommendations: z.array(z.unknown()),
    timestamp: z.string(),
  })
  .meta({ id: 'AuditMetrics' })

const AUDIT_METRICS_EXAMPLE = {
  health: { status: 'healthy', issues: [], findings: [] },
  services: HEALTH_EXAMPLE.services,
  metrics: { events_per_second: 12.5 },
  recommendations: [],
  timestamp: '2026-11-23T09:00:00.000Z',
}

const auditMetrics = (url: string, deprecated: boolean): RouteContract => ({
  method: 'GET',
  url,
  operationId: deprecated ? 'getAuditMetricsLegacy' : 'getAuditMetrics',
  summary: deprecated ? 'The monitoring summary (the path from before the API was versioned)' : 'The monitoring summary: health, figures, recommendations',
  tags: ['monitoring'],
  access: 'admin',
  ...(deprecated ? { deprecated: true } : {}),
  responses: { 200: { description: 'Always 200: the body carries the status.', content: { 'application/json': { schema: AuditMetricsSchema, examples: { summary: { value: AUDIT_METRICS_EXAMPLE } } } } } },
  errors: ['AUDITQ_FORBIDDEN'],
})

export function monitoringContracts(): RouteContract[] {
  return [
    {
      method: 'GET',
      url: '/api/v1/monitoring/health',
      operationId: 'getHealth',
      summary: 'Health status, for load balancers',
      description: 'Public. A caller with the admin scope also gets the issues and figures. 503 from the configured status up.',
      tags: ['monitoring'],
      access: 'public',
      responses: {
        200: { description: 'Healthy (or below the failing status).', content: { 'application/json': { schema: HealthSchema, examples: { healthy: { value: HEALTH_EXAMPLE } } } } },
        503: { description: 'At or above the failing status; same body.', content: { 'application/json': { schema: HealthSchema } } },
      },
      errors: [],
    },
    {
      method: 'POST',
      url: '/api/v1/monitoring/redis-losses/ack',
      operationId: 'acknowledgeRedisLosses',
      summary: 'Acknowledge recorded Redis losses (queue mode)',
      tags: ['monitoring'],
      access: 'admin',
      body: {
        validation: 'schema',
        content: {
          'application/json': {
            schema: z
              .union([z.strictObject({ ids: z.array(z.string()).min(1) }), z.strictObject({ all: z.literal(true) })], {
                error: 'ids (a non-empty array of loss ids) or all: true is required',
              })
              .meta({ id: 'RedisLossAck' }),
            examples: { all: { value: { all: true } } },
          },
        },
      },
      responses: { 200: { description: 'The losses cleared.', content: { 'application/json': { schema: z.looseObject({ acknowledged: z.array(z.looseObject({})) }) } } } },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND'],
    },
    auditMetrics('/api/v1/monitoring/audit-metrics', false),
    auditMetrics('/api/monitoring/audit-metrics', true),
    {
      method: 'GET',
      url: '/metrics',
      operationId: 'getPrometheusMetrics',
      summary: 'Prometheus text exposition',
      tags: ['monitoring'],
      access: 'admin',
      responses: { 200: { description: 'The metrics.', content: { 'text/plain': { schema: z.string() } } } },
      errors: ['AUDITQ_FORBIDDEN'],
    },
    {
      method: 'GET',
      url: '/api/v1/monitoring/history',
      operationId: 'getMonitoringHistory',
      summary: "The sampler's recent readings, oldest first",
      tags: ['monitoring'],
      access: 'admin',
      responses: {
        200: {
          description: 'The samples.',
          content: { 'application/json': { schema: z.looseObject({ interval_ms: z.number().int(), samples: z.array(z.looseObject({})) }), examples: { empty: { value: { interval_ms: 5000, samples: [] } } } } },
        },
      },
      errors: ['AUDITQ_FORBIDDEN'],
    },
  ]
}
