import type { Logger } from '../util/logger.js'
import { withTimeout } from './queue-setup.js'

/**
 * How long a failed start may spend closing what it opened. A close that hangs (a statement stuck
 * on a lock, a pool waiting for a dead server) must not keep a process that cannot serve alive.
 */
const CLOSE_DEADLINE_MS = 5_000

/**
 * After a failed start has closed what it could, this long for the error to be printed and the
 * event loop to drain; then the process exits whatever still holds it (a client reconnecting to
 * a server that is down keeps the loop alive on its own).
 */
const EXIT_GRACE_MS = 1_000

/**
 * What a long-running command (`serve`, `worker`) opened while starting. If the start fails, each
 * is closed, newest first, and the process is made to exit: printing the error and staying up
 * holding database and Redis connections looks "running" to a supervisor while serving nothing.
 */
export class StartupResources {
  private readonly closers: { name: string; close: () => Promise<unknown> | unknown }[] = []

  constructor(private readonly logger: Logger) {}

  /** Registers `close` for a resource just opened. */
  add(name: string, close: () => Promise<unknown> | unknown): void {
    this.closers.push({ name, close })
  }

  /**
   * Runs `start`; if it throws, closes everything registered (bounded by a deadline), arranges for
   * the process to exit non-zero, and rethrows so the CLI prints the error with its code.
   */
  async run<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start()
    } catch (error) {
      await this.closeAll()
      exitAfterFatalStart()
      throw error
    }
  }

  private async closeAll(): Promise<void> {
    const closeEach = async () => {
      for (const { name, close } of this.closers.splice(0).reverse()) {
        try {
          await close()
        } catch (error) {
          this.logger.warn({ err_message: (error as Error).message, resource: name }, 'closing after a failed start failed')
        }
      }
      return true
    }
    const closed = await withTimeout(closeEach(), CLOSE_DEADLINE_MS)
    if (!closed) this.logger.warn({ deadline_ms: CLOSE_DEADLINE_MS }, 'not everything opened during start closed in time; exiting anyway')
  }
}

/** The CLI entry sets the exit code when it prints the error; this only makes sure the process ends. */
function exitAfterFatalStart(): void {
  setTimeout(() => {
    const code = Number(process.exitCode ?? 0)
    process.exit(code === 0 || Number.isNaN(code) ? 1 : code)
  }, EXIT_GRACE_MS).unref()
}
