import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { REDIS_URL } from './services.js'
import { noteSkipped, withoutPassword } from './skip-notice.js'
import { freePort } from './free-port.js'

/**
 * Server-backed suites call this in beforeAll (as `postgresAvailable`). Locally, a missing Redis
 * skips the suite; with CI=true it fails, so CI can never go green by skipping what it was meant
 * to prove.
 */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => undefined) // connect() rejects with the same error, handled below.
  try {
    await client.connect()
    await client.ping()
    return true
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`Redis is required in CI but unreachable at ${url}: ${(error as Error).message}`)
    noteSkipped('redis', `unreachable at ${withoutPassword(url)}: ${(error as Error).message}`)
    return false
  } finally {
    client.disconnect()
  }
}

/** Same contract for suites that start their own server: is `redis-server` on PATH? */
export function redisServerAvailable(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  if (!found && process.env.CI === 'true') throw new Error('redis-server is required in CI but is not on PATH')
  if (!found) noteSkipped('redis-server', 'redis-server is not on PATH')
  return found
}

/** A key prefix of its own per test file, so files running in parallel never share keys. */
export function uniqueRedisPrefix(name: string): string {
  return `test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}

/** Deletes every key under a prefix (SCAN, not KEYS, so a big shared Redis is not blocked). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/**
 * A private `redis-server` in a temp dir, for tests that change server settings (eviction policy,
 * CONFIG disabled, `--appendonly yes`) or that stop, crash and restart Redis. Extra `args` are
 * passed as they would be on the command line, e.g. `['--appendonly', 'yes']`.
 */
export interface RedisTestServer {
  readonly port: number
  readonly url: string
  /** Data directory; it survives `stop` and `restart`, so persistence can be tested. */
  readonly dir: string
  /** A new client (caller closes it). */
  client(): Redis
  /** Graceful SHUTDOWN-like stop (SIGTERM: Redis fsyncs the AOF / saves per its config). */
  stop(): Promise<void>
  /** A crash: SIGKILL, nothing flushed beyond what the fsync policy already did. */
  kill(): Promise<void>
  /** Starts again on the same port and data dir, with the same arguments. */
  restart(): Promise<void>
  /** Stops the server and deletes its data dir. */
  destroy(): Promise<void>
}

export async function startRedisServer(options: { args?: string[] } = {}): Promise<RedisTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'auditq-redis-'))
  const args = options.args ?? []
  // Port chosen by the OS, then released: another process could grab it in between, so retry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    try {
      const child = await launch(port, dir, args)
      return new TestServer(port, dir, args, child)
    } catch (error) {
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
}

class TestServer implements RedisTestServer {
  readonly url: string

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: string[],
    private child: ChildProcess | null,
  ) {
    this.url = `redis://127.0.0.1:${port}`
  }

  client(): Redis {
    return new Redis(this.url)
  }

  stop(): Promise<void> {
    return this.end('SIGTERM')
  }

  kill(): Promise<void> {
    return this.end('SIGKILL')
  }

  async restart(): Promise<void> {
    await this.end('SIGTERM')
    this.child = await launch(this.port, this.dir, this.args)
  }

  async destroy(): Promise<void> {
    await this.end('SIGKILL')
    await rm(this.dir, { recursive: true, force: true })
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child
    this.child = null
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    await exited
  }
}

async function launch(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  // No snapshots unless a test asks for them: `--save ''` first, so a later `--save` wins.
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // Redis logs to stdout, and a bad argument is reported there too: keep the tail for the error.
  let output = ''
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2_000))
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited with ${code}: ${output}`))),
  )
  try {
    await Promise.race([waitForPing(port), exited])
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  exited.catch(() => undefined) // Later exits are expected (stop, kill): not an unhandled rejection.
  return child
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined) // Refused until the server listens; connect() reports it.
    try {
      await client.connect()
      // Loading an AOF/RDB answers LOADING until done; PING succeeds only once it is ready.
      await client.ping()
      return
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer: ${(error as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      client.disconnect()
    }
  }
}

