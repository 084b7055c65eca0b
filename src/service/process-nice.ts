/**
 * Lowers this process's CPU priority, for processes whose work may wait (stream delivery) so that
 * ingest processes on the same host get the cores first.
 */
import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'
import type { Logger } from '../util/logger.js'

/**
 * Sets the niceness of every thread of this process. On Linux a niceness belongs to a thread, not
 * to the process: setPriority(0, n) would leave V8's and libuv's threads (garbage collection,
 * compilation, DNS, file I/O) at their old priority, so each one listed in /proc/self/task is set.
 * Threads started later inherit the main thread's. Elsewhere the process's own call is all there is.
 */
export function niceThisProcess(nice: number, logger: Logger): void {
  if (nice === 0) return
  let threads: number[] = []
  try {
    threads = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger)
  } catch {
    // No /proc: not Linux; the process-wide call below is the platform's meaning of it.
  }
  const failed: string[] = []
  for (const id of threads.length > 0 ? threads : [0]) {
    try {
      setPriority(id, nice)
    } catch (error) {
      // A thread that ended between the listing and the call; any other failure is reported below.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') failed.push((error as Error).message)
    }
  }
  if (failed.length > 0) logger.warn({ nice, err_message: failed[0] }, 'could not lower the CPU priority of this process; it delivers at normal priority')
  else logger.info({ nice, threads: threads.length || 1 }, 'CPU priority lowered: ingest on this host gets the cores first')
}
