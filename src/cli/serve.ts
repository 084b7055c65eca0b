import type { Command } from 'commander'
import { buildServer } from '../http/server.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { createLogger } from '../util/logger.js'
import { commandConfig } from './context.js'

/** How long shutdown may take before the process exits anyway; in-flight commits normally take milliseconds. */
const SHUTDOWN_DEADLINE_MS = 10_000

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP service (ingest, query, export, health)')
    .option('--host <host>', 'address to bind (default 127.0.0.1, env AUDITQ_HOST)')
    .option('--port <port>', 'port to listen on (default 3000, env AUDITQ_PORT)')
    .action(async (options: { host?: string; port?: string }, command: Command) => {
      const config = commandConfig(command, {
        ...(options.host ? { host: options.host } : {}),
        ...(options.port ? { port: Number(options.port) } : {}),
      })
      const logger = createLogger({ level: config.logLevel })
      const audit = await createAuditLogger({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        defaultTenant: config.defaultTenant,
        groupCommit: config.groupCommit,
        logger,
      })
      const app = await buildServer({ config, audit, logger })
      const address = await app.listen({ host: config.host, port: config.port })
      logger.info({ address, store: audit.store.kind, location: audit.store.description }, `auditq listening on ${address}`)

      let stopping = false
      const stop = async (signal: string) => {
        if (stopping) return
        stopping = true
        logger.info({ signal }, 'shutting down: no new requests, flushing accepted events')
        const deadline = setTimeout(() => {
          logger.error('shutdown deadline passed; exiting with events possibly unflushed')
          process.exit(1)
        }, SHUTDOWN_DEADLINE_MS)
        deadline.unref()
        await app.close()
        await audit.close()
        logger.info('stopped')
        logger.flush()
        process.exitCode = 0
      }
      process.once('SIGINT', () => void stop('SIGINT'))
      process.once('SIGTERM', () => void stop('SIGTERM'))
    })
}
