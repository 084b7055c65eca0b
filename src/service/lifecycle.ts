import type { Logger } from '../util/logger.js'
import { withDeadline } from '../util/deadline.js'

/** A component's stop: resolves false (or rejects) when it could not stop cleanly. */
export type StopComponent = () => Promise<boolean | void> | boolean | void

/**
 * Every long-running part of the service, in the order it started. Each registers its stop once,
 * right after it starts; stopping runs them newest first, so a component is always stopped before
 * what it depends on (the worker before the store it writes to, HTTP before the logger its
 * requests call). A start that fails stops what already started, in the same order.
 */
export class Lifecycle {
  private readonly components: { name: string; stop: StopComponent }[] = []
  private stopping: Promise<boolean> | undefined

  constructor(private readonly logger: Logger) {}

  /** Registers the stop of a component that has just started. */
  add(name: string, stop: StopComponent): void {
    this.components.push({ name, stop })
  }

  /** The registered components' names, in start order. */
  names(): string[] {
    return this.components.map((component) => component.name)
  }

  /**
   * Runs `start`; if it throws, stops what it registered (within `deadlineMs`) and rethrows, so
   * a failed start never leaves connections, timers or a listening socket behind.
   */
  async start<T>(start: () => Promise<T>, options: { deadlineMs: number }): Promise<T> {
    try {
      return await start()
    } catch (error) {
      await this.stop({ deadlineMs: options.deadlineMs, reason: 'start failed' })
      throw error
    }
  }

  /**
   * Stops every component, newest first, each once, all within `deadlineMs`. Resolves true when
   * every stop finished cleanly in time. A stop that throws is logged and counted as unclean; the
   * rest still run. Calling it again returns the first call's outcome.
   */
  stop(options: { deadlineMs: number; reason?: string }): Promise<boolean> {
    this.stopping ??= this.stopAll(options)
    return this.stopping
  }

  private async stopAll({ deadlineMs, reason }: { deadlineMs: number; reason?: string }): Promise<boolean> {
    const deadlineAt = Date.now() + deadlineMs
    let clean = true
    for (const { name, stop } of this.components.splice(0).reverse()) {
      // Past the deadline, each remaining component still gets a moment to release what it holds.
      const left = Math.max(100, deadlineAt - Date.now())
      const outcome = await withDeadline(
        Promise.resolve()
          .then(stop)
          .then((result) => result !== false)
          .catch((error: unknown) => {
            this.logger.warn({ err_message: (error as Error).message, component: name, reason }, 'a component failed to stop cleanly')
            return false
          }),
        left,
      )
      if (outcome === undefined) this.logger.warn({ component: name, deadline_ms: deadlineMs, reason }, 'a component did not stop within the deadline')
      if (outcome !== true) clean = false
    }
    return clean
  }
}
