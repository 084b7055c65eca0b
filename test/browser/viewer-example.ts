import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../support/free-port.js'

const SERVER = join(import.meta.dirname, '..', '..', 'examples', 'viewer-express', 'server.mjs')

export interface RunningExample {
  /** http://127.0.0.1:<port>: auditq, which serves /viewer.js and the viewer's API. */
  auditqUrl: string
  /** http://localhost:<port>: the example app, another origin. */
  appUrl: string
  output(): string
  stop(): Promise<void>
}

/**
 * Runs examples/viewer-express/server.mjs exactly as its one command does (it starts `auditq serve`
 * from the build, then the Express app), on free ports, with the given environment on top.
 */
export async function runExample(env: Record<string, string>): Promise<RunningExample> {
  const [auditqPort, appPort] = [await freePort(), await freePort()]
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-viewer-test-'))
  let output = ''
  const child: ChildProcess = spawn(process.execPath, [SERVER], {
    env: { ...process.env, AUDITQ_DATA_DIR: dataDir, ...env, AUDITQ_PORT: String(auditqPort), PORT: String(appPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const appUrl = `http://localhost:${appPort}`
  const deadline = Date.now() + 90_000
  while (!output.includes('example app on')) {
    if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${output}`)
    if (Date.now() > deadline) throw new Error(`the example did not start within 90 s:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    auditqUrl: `http://127.0.0.1:${auditqPort}`,
    appUrl,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
