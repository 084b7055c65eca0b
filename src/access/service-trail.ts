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
import type { QueueDivert } from '../queue/overflow.js'
import { PauseTrail } from './pause-trail.js'
import { AccessRecorder, type AccessRecorderStats } from './recorder.js'

export interface ServiceTrail {
  recorder: AccessRecorder
  /** The queue overflowed (SDK hook `observeQueueDivert`): recorded per episode, never waits. */
  queueDiverted(divert: QueueDivert): void
  /** A queue worker paused for the store or resumed (runtime hook `observeStorePause`). */
  storePause(state: 'paused' | 'resumed', workerId: string): void
  /** The recorder's state with the pause records still waiting to be written, for health. */
  stats(): AccessRecorderStats
  /**
   * Records the start; call once the service is up. Resolves once written (or the failure is
   * logged); a caller that must not wait for the store need not, since stop() waits for it.
   */
  started(details: Record<string, unknown>): Promise<void>
  /** Records the stop, then flushes and closes the recorder. */
  stop(): Promise<void>
}

/**
 * With aggregation off (`access.aggregateWindowMs` 0) pauses are still recorded per episode: one
 * record per overflowing enqueue would flood the trail during an outage.
 */
const DEFAULT_QUIET_MS = 60_000

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
  let startRecord: Promise<void> | undefined
  const pauses = new PauseTrail({ recorder, quietMs: config.access.aggregateWindowMs || DEFAULT_QUIET_MS, process: process_ })
  return {
    recorder,
    queueDiverted: (divert) => pauses.noteOverflow(divert),
    storePause: (state, workerId) => (state === 'paused' ? pauses.notePause(workerId) : pauses.noteResumed(workerId)),
    stats: () => {
      const stats = recorder.stats()
      return { ...stats, pending: stats.pending + pauses.stats().pending }
    },
    started(details) {
      const record = recorder.recordOrWarn({ kind: 'service.start', actor: { kind: 'system', id: null }, tenant: null, what: { ...process_, ...details } }).then(() => undefined)
      startRecord = record
      return record
    },
    async stop() {
      // The start's record first, even if the caller did not wait for it; then the pauses still
      // open end here, before the stop they end with.
      await startRecord
      await pauses.close()
      await recorder.recordOrWarn({ kind: 'service.stop', actor: { kind: 'system', id: null }, tenant: null, what: process_ })
      await recorder.close()
    },
  }
}
