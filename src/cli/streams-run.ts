import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { SERVE_STOP_DEADLINE_MS, startService } from '../service/service.js'
import { createLogger } from '../util/logger.js'
import { commandConfig } from './context.js'
import { exitAfterFatalStart, stopOnSignals } from './signals.js'

/** `auditq streams run`: a process that only delivers streams (docs/streaming.md, "Deliverers in their own process"). */
export function registerStreamsRun(streams: Command): void {
  streams
    .command('run')
    .description('deliver streams and nothing else (no ingest): run it beside `serve`/`worker` started with AUDITQ_STREAMS_ENABLED=false so delivery never takes their CPU; any number may run, each stream is delivered by one at a time')
    .option('--nice <n>', 'lower this process\'s CPU priority, 0–19 (env AUDITQ_STREAMS_NICE), so ingest on the same host gets the cores first')
    .option('--metrics-port <port>', 'serve Prometheus GET /metrics (stream delivery metrics) on this port')
    .action(async (options: { nice?: string; metricsPort?: string }, command: Command) => {
      const config = commandConfig(command, options.nice !== undefined ? { streams: { processNice: options.nice } } : {})
      const metricsPort = options.metricsPort === undefined ? undefined : Number(options.metricsPort)
      if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65_535)) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', '--metrics-port must be an integer from 0 to 65535')
      }
      const logger = createLogger({ level: config.logLevel, name: 'auditq-streams', format: config.logFormat })
      const service = await startService({ role: 'streams', config, logger, ...(metricsPort !== undefined ? { metricsPort } : {}) }).catch(exitAfterFatalStart)
      stopOnSignals({ logger, service, deadlineMs: SERVE_STOP_DEADLINE_MS, message: 'stopping: finishing the batches in flight, releasing the leases' })
    })
}
