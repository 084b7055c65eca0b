import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CLI, cliEnv, cliRunner } from './cli.js'

const dataDir = mkdtempSync(join(tmpdir(), 'auditq-cli-env-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

/** What a shell set up for one's own service exports (unreachable here, so a leak cannot succeed). */
const EXPORTED = { AUDITQ_REDIS_URL: 'redis://127.0.0.1:1', AUDITQ_QUEUE_PREFIX: 'auditq', AUDITQ_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/shared' }

describe("the CLI as tests spawn it ignores the developer's AUDITQ_* settings", () => {
  const saved = Object.fromEntries(Object.keys(EXPORTED).map((name) => [name, process.env[name]]))
  beforeEach(() => void Object.assign(process.env, EXPORTED))
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  it("cliRunner: auditq dlq does not reach the developer's Redis", () => {
    const dlq = cliRunner(dataDir)(['dlq', 'list'])
    expect(dlq.code).toBe(2)
    expect(dlq.stderr).toMatch(/the dead-letter queue lives in Redis: set AUDITQ_REDIS_URL/)
  }, 60_000)

  it('cliEnv: auditq serve runs in direct mode on the embedded store it was given', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { env: cliEnv({ AUDITQ_DATA_DIR: dataDir }), stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let output = ''
        child.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString()
          const match = /listening on (http:\/\/[\d.:]+)/.exec(output)
          if (match) resolve(match[1]!)
        })
        child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${output}`)))
      })
      const health = (await (await fetch(`${base}/api/v1/monitoring/health`)).json()) as { services: Record<string, string> }
      expect(health.services).toMatchObject({ store: 'connected', redis: 'not used (direct mode)' })
    } finally {
      child.kill('SIGKILL')
    }
  }, 60_000)
})
