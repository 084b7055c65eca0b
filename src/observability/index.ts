import type { Config } from '../config.js'
import type { QueueStatus } from '../queue/queue-status.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { Logger } from '../util/logger.js'
import { pipelineReader } from './reading.js'
import { PipelineSampler, type PipelineView } from './sampler.js'

export interface MonitoringDependencies {
  config: Config
  audit: AuditLogger
  logger: Logger
  queueStatus?: () => Promise<QueueStatus>
  /** Extra consumers of every periodic sample (alerts). */
  onSample?: (view: PipelineView) => void
}

export interface Monitoring {
  sampler: PipelineSampler
  stop(): Promise<void>
}

/** The service's monitoring: one sampler per service instance, started with it. */
export async function startMonitoring(deps: MonitoringDependencies): Promise<Monitoring> {
  const { config } = deps
  const sampler = new PipelineSampler({
    read: pipelineReader({ store: deps.audit.store, audit: deps.audit, pingTimeoutMs: 2_000, ...(deps.queueStatus ? { queueStatus: deps.queueStatus } : {}) }),
    thresholds: config.monitoring.thresholds,
    everyMs: config.monitoring.sampleEveryMs,
    historyMs: config.monitoring.historyMs,
    rateWindowMs: config.monitoring.rateWindowMs,
    logger: deps.logger,
    ...(deps.onSample ? { onSample: deps.onSample } : {}),
  })
  await sampler.start()
  return {
    sampler,
    stop: () => sampler.stop(),
  }
}
