/**
 * Everything the campaign starts (servers, child processes, temp dirs, a tmpfs mount) registers
 * how to undo it here, so a scenario that throws, a Ctrl-C or an uncaught error still leaves the
 * machine as it found it. Undo steps are synchronous on purpose: `process.on('exit')` cannot wait
 * for promises, and a campaign interrupted half-way must not leave a PostgreSQL or a mount behind.
 */
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'

type Undo = () => void
const steps = new Map<number, { what: string; undo: Undo }>()
let next = 0

/** Registers an undo step; returns a function that runs it now (and forgets it). */
export function onCleanup(what: string, undo: Undo): () => void {
  const id = next++
  steps.set(id, { what, undo })
  return () => {
    const step = steps.get(id)
    if (!step) return
    steps.delete(id)
    runStep(step)
  }
}

/** Runs every registered step, newest first (children before the servers they use, mounts before dirs). */
export function cleanupAll(): void {
  for (const id of [...steps.keys()].reverse()) {
    const step = steps.get(id)!
    steps.delete(id)
    runStep(step)
  }
}

function runStep(step: { what: string; undo: Undo }): void {
  try {
    step.undo()
  } catch (error) {
    process.stderr.write(`chaos: cleanup of ${step.what} failed: ${(error as Error).message}\n`)
  }
}

export function killPid(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

let keepLogs = false
/** `--keep-logs`: scenario dirs (process logs, ack files) stay for inspection; servers still stop. */
export function keepScenarioLogs(): void {
  keepLogs = true
}

export function removeDir(dir: string, options: { logs?: boolean } = {}): void {
  if (options.logs && keepLogs) {
    process.stderr.write(`chaos: kept ${dir}\n`)
    return
  }
  rmSync(dir, { recursive: true, force: true })
}

/** Runs a command synchronously and throws with its output when it fails. */
export function run(command: string, args: string[], options: { timeoutMs?: number } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000 })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal ?? result.error?.message}): ${(result.stderr || result.stdout || '').trim().slice(-1_000)}`)
  }
  return result.stdout
}

let installed = false
/** Exit, signals and uncaught errors all end in `cleanupAll`. */
export function installExitHandlers(): void {
  if (installed) return
  installed = true
  process.on('exit', cleanupAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nchaos: ${signal}: stopping servers and removing temp dirs\n`)
      cleanupAll()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`chaos: uncaught ${error.stack ?? error.message}\n`)
    cleanupAll()
    process.exit(1)
  })
}
