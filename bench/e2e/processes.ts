/**
 * Worker processes for the queue scenarios: real, separate OS processes, started before the clock
 * and stopped (SIGTERM, then SIGKILL) after it. Their output is kept, not shown, unless they fail.
 */
import { spawn, type ChildProcess } from 'node:child_process'

export interface Spawned {
  readonly pid: number
  readonly child: ChildProcess
  /** Last lines of stdout+stderr, for the error message when something goes wrong. */
  tail(): string
  /** Resolves once a line matching `pattern` has been printed. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void>
  exited(): boolean
  stop(timeoutMs?: number): Promise<number | null>
}

export interface SpawnOptions {
  env?: Record<string, string>
  /** Extra node flags, e.g. `--cpu-prof --cpu-prof-dir DIR`. */
  nodeArgs?: string[]
}

export function spawnNode(script: string, args: string[], options: SpawnOptions = {}): Spawned {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const listeners = new Set<(line: string) => void>()
  let exitCode: number | null | undefined
  const exit = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null)
      resolve(exitCode)
    })
  })
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue
      lines.push(line)
      if (lines.length > 40) lines.shift()
      for (const listener of listeners) listener(line)
    }
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  if (child.pid === undefined) throw new Error(`could not start ${script}`)
  return {
    pid: child.pid,
    child,
    tail: () => lines.join('\n'),
    exited: () => exitCode !== undefined,
    waitForLine(pattern, timeoutMs) {
      if (lines.some((line) => pattern.test(line))) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${script}: no line matching ${pattern} within ${timeoutMs} ms\n${lines.join('\n')}`)), timeoutMs)
        const listener = (line: string) => pattern.test(line) && finish()
        const finish = (error?: Error) => {
          clearTimeout(timer)
          listeners.delete(listener)
          if (error) reject(error)
          else resolve()
        }
        listeners.add(listener)
        void exit.then((code) => finish(new Error(`${script} exited (${code}) before printing ${pattern}\n${lines.join('\n')}`)))
      })
    },
    async stop(timeoutMs = 15_000) {
      if (exitCode !== undefined) return exitCode
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const code = await exit
      clearTimeout(timer)
      return code
    },
  }
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
