import type { RunningService } from '../service/service.js'
import type { Logger } from '../util/logger.js'

/**
 * After a failed start has closed what it could, this long for the error to be printed and the
 * event loop to drain; then the process exits whatever still holds it (a client reconnecting to
 * a server that is down keeps the loop alive on its own).
 */
const EXIT_GRACE_MS = 1_000

/** Rethrows a start error (the CLI entry prints it with its code) and makes sure the process then ends. */
export function exitAfterFatalStart(error: unknown): never {
  setTimeout(() => {
    const code = Number(process.exitCode ?? 0)
    process.exit(code === 0 || Number.isNaN(code) ? 1 : code)
  }, EXIT_GRACE_MS).unref()
  throw error
}

/**
 * SIGINT/SIGTERM stop the service once: exit 0 when every component stopped cleanly, 1 otherwise,
 * and 1 if the stop outlives its deadline (with a second's grace past the service's own).
 */
export function stopOnSignals(options: { logger: Logger; service: RunningService; deadlineMs: number; message: string }): void {
  const { logger, service, deadlineMs } = options
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, options.message)
    const hardDeadline = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting with events possibly unflushed')
      process.exit(1)
    }, deadlineMs + 1_000)
    hardDeadline.unref()
    const clean = await service.stop({ deadlineMs })
    logger.info({ clean }, 'stopped')
    // Exit explicitly: a connection still reconnecting to a dead Redis would keep the loop alive.
    logger.flush(() => process.exit(clean ? 0 : 1))
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
}
