import type { Command } from 'commander'
import { SERVE_STOP_DEADLINE_MS, startService } from '../service/service.js'
import { createLogger } from '../util/logger.js'
import { commandConfig } from './context.js'
import { exitAfterFatalStart, stopOnSignals } from './signals.js'

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP service (ingest, query, export, health); in queue mode also a worker')
    .option('--host <host>', 'address to bind (default 127.0.0.1, env AUDITQ_HOST)')
    .option('--port <port>', 'port to listen on (default 3000, env AUDITQ_PORT)')
    .option('--no-worker', 'queue mode: run ingest only, no in-process worker')
    .option('--insecure', 'allow listening on a non-loopback address while no API key exists (every caller gets full access)')
    .action(async (options: { host?: string; port?: string; worker: boolean; insecure?: boolean }, command: Command) => {
      const config = commandConfig(command, {
        ...(options.host ? { host: options.host } : {}),
        ...(options.port ? { port: Number(options.port) } : {}),
      })
      const logger = createLogger({ level: config.logLevel, format: config.logFormat })
      // A start that fails (port in use, spill journal unwritable, bad signing key) has closed what
      // it opened; the process exits non-zero instead of staying up holding connections.
      const service = await startService({ role: 'serve', config, logger, worker: options.worker, insecure: options.insecure === true }).catch(exitAfterFatalStart)
      stopOnSignals({ logger, service, deadlineMs: SERVE_STOP_DEADLINE_MS, message: 'shutting down: no new requests, flushing accepted events' })
    })
}
