/**
 * The access recorder of a running service (`serve` or `worker`): records its start, and on stop
 * records the stop and writes the aggregates still open. A failure to record either is counted and
 * logged at warn (the recorder does both) but does not keep the service from starting or stopping:
 * refusing to start would stop ingest too, and a stop cannot be refused.
 */
import { hostname } from 'node:os'
import type { Config } from '../config.js'
import type { AuditEvent } from '../event/types.js'
import type { Logger } from '../util/logger.js'
import { AccessRecorder } from './recorder.js'

export interface ServiceTrail {
  recorder: AccessRecorder
  /** Records the start; call once the service is up. */
  started(details: Record<string, unknown>): Promise<void>
  /** Records the stop, then flushes and closes the recorder. */
  stop(): Promise<void>
}

export function serviceTrail(options: {
  role: 'serve' | 'worker'
  store: { insertBatch(events: readonly AuditEvent[]): Promise<unknown>; classifyError(error: unknown): 'transient' | 'data' }
  config: Config
  logger: Logger
}): ServiceTrail {
  const { role, store, config, logger } = options
  const recorder = new AccessRecorder({
    write: (events) => store.insertBatch(events),
    isStoreUnavailable: (error) => store.classifyError(error) === 'transient',
    windowMs: config.access.aggregateWindowMs,
    systemTenant: config.access.systemTenant,
    logger,
  })
  const process_ = { role, host: hostname(), pid: process.pid }
  return {
    recorder,
    async started(details) {
      await recorder.recordOrWarn({ kind: 'service.start', actor: { kind: 'system', id: null }, tenant: null, what: { ...process_, ...details } })
    },
    async stop() {
      await recorder.recordOrWarn({ kind: 'service.stop', actor: { kind: 'system', id: null }, tenant: null, what: process_ })
      await recorder.close()
    },
  }
}
