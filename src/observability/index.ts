import { hostname } from 'node:os'
import { missingEventsMonitor } from '../completeness/monitor.js'
import type { Config } from '../config.js'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import { AlertDelivery } from './alert-delivery.js'
import { AlertRules } from './alerts.js'
import type { StreamHealthReading } from './reading.js'
import { newRegistry, ServiceMetrics } from './metrics.js'
import { pipelineReader } from './reading.js'
import { PipelineSampler } from './sampler.js'

/** How often monitoring re-runs the completeness check (a scan of every producer's sequence). */
const MINUTE_MS = 60_000

export interface MonitoringDependencies {
  config: Config
  audit: AuditLogger
  /** The store health pings and chain metrics read; the logger's own when not given. */
  store?: Store
  logger: Logger
  queueStatus?: () => Promise<QueueStatus>
  /** Built by the caller when the SDK logger should feed its hooks (`auditq serve` does); else a fresh one. */
  metrics?: ServiceMetrics
  /** The access trail's recorder state, for the `access_unrecorded` health rule. */
  accessTrail?: () => { failing: { since: string; message: string } | null; pending: number }
  /** The search backfill's state, for the `search_unindexed` rule. */
  searchIndex?: () => { unindexed: number | null; running: boolean; failing: { since: string; message: string } | null }
  /** Streams not delivering, for the `stream_failing` rule. */
  streamHealth?: () => Promise<StreamHealthReading[]>
}

export interface Monitoring {
  sampler: PipelineSampler
  metrics: ServiceMetrics
  alerts: AlertRules
  stop(): Promise<void>
}

/**
 * The service's monitoring, started with it: one sampler, one metrics registry, and the alert
 * rules evaluated on every sample (always logged; posted to the configured webhooks).
 */
export async function startMonitoring(deps: MonitoringDependencies): Promise<Monitoring> {
  const { config } = deps
  const queueMode = deps.queueStatus !== undefined
  const metrics = deps.metrics ?? new ServiceMetrics(newRegistry())
  const store = deps.store ?? deps.audit.store
  metrics.observeChainWrites(store)
  metrics.observeReadReplica(store)
  // Queue rules describe the shared queue: every service of one queue uses the same key, so a
  // receiver merges their notices. In direct mode each instance is its own pipeline.
  const source = queueMode ? `queue ${config.queue.prefix}/${config.queue.name}` : `direct ${hostname()}:${config.port}`
  const alerts = new AlertRules({
    cooldownMs: config.monitoring.alertCooldownMs,
    dedupPrefix: `auditq:${source.replace(' ', ':')}`,
    // A worker started with this service (or restarted in a deploy) is live once it beats: wait as
    // long as a heartbeat stays valid before paging that none is. /health reports it at once.
    holdMs: { no_live_worker: config.worker.heartbeatEveryMs * 3 },
  })
  const delivery = new AlertDelivery({
    urls: config.monitoring.alertWebhooks,
    timeoutMs: config.monitoring.alertTimeoutMs,
    retries: config.monitoring.alertRetries,
    logger: deps.logger.child({ component: 'alerts' }),
    source,
    onDelivery: (state, outcome) => metrics.alertNotifications.labels(state, outcome).inc(),
  })
  const sampler = new PipelineSampler({
    read: pipelineReader({
      store,
      audit: deps.audit,
      pingTimeoutMs: 2_000,
      ...(deps.queueStatus ? { queueStatus: deps.queueStatus } : {}),
      ...(deps.streamHealth ? { streamHealth: deps.streamHealth } : {}),
      ...(store.completeness
        ? {
            producerMissing: missingEventsMonitor(store.completeness, {
              inFlightBoundMs: config.completeness.inFlightBoundMs,
              everyMs: MINUTE_MS,
              onError: (error) => deps.logger.warn({ err_message: error.message }, 'completeness check for monitoring failed'),
            }),
          }
        : {}),
    }),
    thresholds: config.monitoring.thresholds,
    everyMs: config.monitoring.sampleEveryMs,
    historyMs: config.monitoring.historyMs,
    rateWindowMs: config.monitoring.rateWindowMs,
    logger: deps.logger,
    ...(deps.accessTrail ? { accessTrail: deps.accessTrail } : {}),
    ...(deps.searchIndex ? { searchIndex: deps.searchIndex } : {}),
    onSample: (view) => delivery.send(alerts.observe(view.evaluation.findings, view.reading.at), view.figures),
  })
  metrics.attach({ audit: deps.audit, latest: () => sampler.latest() })
  await sampler.start()
  return {
    sampler,
    metrics,
    alerts,
    stop: async () => {
      await sampler.stop()
      await delivery.close()
    },
  }
}
