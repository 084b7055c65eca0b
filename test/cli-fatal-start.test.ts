/**
 * A service that cannot start must say why and exit non-zero at once, having closed what it
 * opened — not print the error and stay up holding its database and Redis connections, which a
 * supervisor reads as "running". The built CLI, spawned as an operator or a supervisor would.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI } from './support/cli.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from './support/redis-server.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, REDIS_URL, uniqueSchema } from './support/services.js'

const hasServices = (await postgresAvailable()) && (await redisAvailable())
/** Generous for a shared 2-core machine; a process that hangs on stays up for minutes. */
const EXIT_WITHIN_MS = 15_000

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  ms: number
}

/** Runs the CLI and waits for it to exit; a process still running after EXIT_WITHIN_MS is killed and reported as hung. */
function runToExit(args: string[], env: NodeJS.ProcessEnv): Promise<Exit | 'still running'> {
  const started = Date.now()
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve('still running')
    }, EXIT_WITHIN_MS)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr, ms: Date.now() - started })
    })
  })
}

describe.skipIf(!hasServices)('a fatal start error ends the process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditq-fatal-'))
  const schema = uniqueSchema('fatal')
  const prefix = uniqueRedisPrefix('fatal')
  let taken: Server
  let takenPort: number
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    takenPort = (taken.address() as { port: number }).port
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AUDITQ_')))
    env = {
      ...inherited,
      AUDITQ_DATABASE_URL: POSTGRES_URL,
      AUDITQ_DATABASE_SCHEMA: schema,
      AUDITQ_REDIS_URL: REDIS_URL,
      AUDITQ_QUEUE_PREFIX: prefix,
      AUDITQ_DATA_DIR: dir,
      AUDITQ_LOG_LEVEL: 'warn',
      AUDITQ_LOG_FORMAT: 'json',
    }
  })
  afterAll(async () => {
    taken?.close()
    const redis = new Redis(REDIS_URL)
    await deleteKeys(redis, prefix).finally(() => redis.disconnect())
    await dropSchemas([schema])
    rmSync(dir, { recursive: true, force: true })
  })

  it('serve in queue mode on a port already in use exits non-zero at once, naming the address', async () => {
    const exit = await runToExit(['serve', '--port', String(takenPort)], env)
    expect(exit, 'serve stayed up after failing to listen').not.toBe('still running')
    const { code, stderr } = exit as Exit
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
    expect(stderr).toMatch(/EADDRINUSE|address already in use/)
  }, 60_000)

  it('serve in direct mode on a port already in use exits non-zero at once', async () => {
    const exit = await runToExit(['serve', '--port', String(takenPort)], { ...env, AUDITQ_REDIS_URL: '' })
    expect(exit, 'serve stayed up after failing to listen').not.toBe('still running')
    expect((exit as Exit).code).not.toBe(0)
    expect((exit as Exit).stderr).toMatch(/EADDRINUSE|address already in use/)
  }, 60_000)

  it('serve in queue mode with a spill journal directory that cannot be created exits non-zero at once, naming it', async () => {
    const file = join(dir, 'a-regular-file')
    writeFileSync(file, 'not a directory')
    const exit = await runToExit(['serve', '--port', '0'], { ...env, AUDITQ_SPILL_DIR: join(file, 'spill') })
    expect(exit, 'serve stayed up after failing to open its spill journal').not.toBe('still running')
    const { code, stderr } = exit as Exit
    expect(code).not.toBe(0)
    expect(code).not.toBeNull()
    expect(stderr).toMatch(/ENOTDIR|not a directory|spill/i)
  }, 60_000)

  it('worker whose store cannot be opened exits non-zero at once instead of holding its Redis connection', async () => {
    const exit = await runToExit(['worker'], { ...env, AUDITQ_DATABASE_URL: 'postgres://auditq@127.0.0.1:1/none?connect_timeout=2' })
    expect(exit, 'worker stayed up after failing to open the store').not.toBe('still running')
    expect((exit as Exit).code).not.toBe(0)
    expect((exit as Exit).code).not.toBeNull()
  }, 60_000)

  it('worker whose metrics port is in use exits non-zero at once', async () => {
    const exit = await runToExit(['worker', '--metrics-port', String(takenPort)], env)
    expect(exit, 'worker stayed up after failing to listen for metrics').not.toBe('still running')
    expect((exit as Exit).code).not.toBe(0)
    expect((exit as Exit).stderr).toMatch(/EADDRINUSE|address already in use/)
  }, 60_000)
})
