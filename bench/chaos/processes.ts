/**
 * The processes of a scenario: `auditq serve` / `auditq worker` from the built CLI and producer
 * children, each a real OS process whose output goes to a log file in the scenario's dir (its tail
 * is shown when something fails). Every child is registered for cleanup by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { onCleanup, killPid } from './cleanup.js'
import type { ProducerSpec } from './producer.js'

const ROOT = join(import.meta.dirname, '..', '..', '..')
export const CLI = join(ROOT, 'dist', 'cli', 'index.js')
const PRODUCER = join(import.meta.dirname, 'producer.js')

export interface Child {
  readonly name: string
  readonly pid: number
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  alive(): boolean
  /** Output so far (stdout + stderr). */
  output(): string
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>
  kill(signal: NodeJS.Signals): void
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

export function spawnChild(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Child {
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const log = createWriteStream(logFile, { flags: 'a' })
  let text = ''
  const listeners = new Set<() => void>()
  const collect = (chunk: Buffer) => {
    log.write(chunk)
    text += chunk.toString('utf8')
    if (text.length > 2_000_000) text = text.slice(-1_000_000)
    for (const listener of listeners) listener()
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const forget = onCleanup(`${name} (pid ${child.pid})`, () => killPid(child.pid))
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true
      forget()
      // 'exit' can come before the last output: let the pipes drain first.
      setTimeout(() => {
        log.end()
        resolve({ code, signal })
        for (const listener of listeners) listener()
      }, 50)
    }),
  )
  return {
    name,
    pid: child.pid!,
    exited,
    alive: () => !done,
    output: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${name}: nothing matching ${pattern} within ${timeoutMs} ms:\n${text.slice(-2_000)}`)), timeoutMs)
        const check = () => {
          if (pattern.test(text)) finish()
          else if (done) finish(new Error(`${name} exited before printing ${pattern}:\n${text.slice(-2_000)}`))
        }
        const finish = (error?: Error) => {
          clearTimeout(timer)
          listeners.delete(check)
          if (error) reject(error)
          else resolve()
        }
        listeners.add(check)
        check()
      }),
    kill: (signal) => {
      if (!done) child.kill(signal)
    },
    stop: async (graceMs = 20_000) => {
      if (done) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

export function spawnCli(name: string, args: string[], env: NodeJS.ProcessEnv, dir: string): Child {
  return spawnChild(name, [CLI, ...args], env, join(dir, `${name}.log`))
}

/** `auditq serve` on `port`, once it listens. */
export async function startServe(name: string, port: number, env: NodeJS.ProcessEnv, dir: string, options: { worker: boolean }): Promise<Child> {
  const child = spawnCli(name, ['serve', '--port', String(port), ...(options.worker ? [] : ['--no-worker'])], env, dir)
  await child.waitFor(/auditq listening/, 120_000)
  return child
}

export async function runCliOnce(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`auditq ${args.join(' ')} exited ${code}: ${stderr.slice(-1_000)}`)
  return stdout
}

export interface ProducerResult {
  name: string
  sent: number
  acked: number
  unanswered: number
  slowestAckMs?: number
  /** The SDK's own counters (`stats()`), for the SDK producer. */
  stats?: Record<string, unknown>
  errors: Record<string, number>
  closeError?: string
  /** Set when the producer died or printed no summary. */
  crashed?: string
}

export interface Producer {
  readonly name: string
  readonly ackFile: string
  readonly child: Child
  /** Resolves once it has loaded the SDK (or is about to post) and starts offering. */
  readonly ready: Promise<void>
  /** Asks it to stop offering (SIGTERM) and waits for its summary. */
  finish(): Promise<ProducerResult>
}

export function startProducer(name: string, spec: Omit<ProducerSpec, 'ackFile'>, env: NodeJS.ProcessEnv, dir: string): Producer {
  const ackFile = join(dir, `${name}.acks`)
  const child = spawnChild(name, [PRODUCER, JSON.stringify({ ...spec, ackFile })], env, join(dir, `${name}.log`))
  return {
    name,
    ackFile,
    child,
    ready: child.waitFor(/^READY$/m, 120_000),
    finish: async () => {
      // The summary comes after in-flight calls settle and close() returns (each bounded at 60 s in the child).
      await child.stop(150_000)
      const line = child.output().split('\n').find((l) => l.startsWith('DONE '))
      if (!line) {
        const { code, signal } = await child.exited
        const acked = readAcks(ackFile).length
        return { name, sent: Number.NaN, acked, unanswered: Number.NaN, errors: {}, crashed: `exited ${code ?? signal} without a summary: ${child.output().slice(-500)}` }
      }
      return { name, ...(JSON.parse(line.slice(5)) as Omit<ProducerResult, 'name'>) }
    },
  }
}

export function readAcks(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0)
  } catch {
    return []
  }
}
