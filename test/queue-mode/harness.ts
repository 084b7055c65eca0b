/**
 * What the queue-mode stories share: a deployment of their own (a PostgreSQL schema or database,
 * a Redis key prefix, a data dir), the built CLI (`dist/cli/index.js`, built by `npm test`) run as
 * real child processes, the SDK as a producer, and plain reads of what landed where.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import pg from 'pg'
import { queueKeys, type QueueKeys } from '../../src/queue/redis-streams/index.js'
import { createAuditLogger, type AuditLogger } from '../../src/sdk/audit-logger.js'
import type { QueueModeOptions } from '../../src/sdk/queued-logger.js'
import { createLogger } from '../../src/util/logger.js'
import { deleteKeys, uniqueRedisPrefix } from '../support/redis-server.js'
import { POSTGRES_URL, REDIS_URL, uniqueSchema } from '../support/services.js'

/** SQL condition for the events an application logged, not auditq's own `auditq.*` records. */
export const APPLICATION_EVENTS = "action not like 'auditq.%'"

const ROOT = join(import.meta.dirname, '..', '..')
export const CLI = join(ROOT, 'dist', 'cli', 'index.js')
const PRODUCER = join(import.meta.dirname, 'fixtures', 'producer.mjs')

/** `auditq worker` (one process) names its consumer `<host>-w<slot>`, slot 0. */
export const WORKER_CONSUMER = `${hostname()}-w0`

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface DeploymentOptions {
  /** Default: the shared Redis (keys under a prefix of their own). */
  redisUrl?: string
  /**
   * `schema` (default): a throwaway schema in the test database. `database`: a throwaway database,
   * for stories that change database-level settings (statement_timeout) or the table itself.
   */
  isolation?: 'schema' | 'database'
}

/** One auditq deployment: every process of a story gets the same env and so the same queue and table. */
export interface Deployment {
  readonly databaseUrl: string
  readonly schema: string
  readonly redisUrl: string
  readonly prefix: string
  readonly keys: QueueKeys
  readonly spillDir: string
  /** Environment for `auditq` child processes. */
  readonly env: NodeJS.ProcessEnv
  /** A client on the deployment's Redis, for assertions. */
  readonly redis: Redis
  /** A pool on the deployment's database with its schema on the search path. */
  readonly db: pg.Pool
  storedIds(): Promise<string[]>
  storedCount(): Promise<number>
  /** Entries delivered to `consumer` and not acknowledged (XPENDING summary). */
  pendingFor(consumer: string): Promise<number>
  /** The SDK in queue mode, in this process, against this deployment (closed by `dispose`). */
  openLogger(queue?: Partial<QueueModeOptions>): Promise<AuditLogger>
  /** `auditq worker` as a child process (killed by `dispose` if still running). */
  spawnWorker(): CliProcess
  /** A producer child process (fixtures/producer.mjs) using the built SDK; `sdk`: more logger options (JSON), e.g. `{ producer: true }`. */
  spawnProducer(queue: Partial<QueueModeOptions>, phases: ProducerPhase[], sdk?: Record<string, unknown>): ProducerProcess
  /** A one-shot CLI command, e.g. `['dlq', 'list']`. */
  runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  dispose(): Promise<void>
}

export async function openDeployment(options: DeploymentOptions = {}): Promise<Deployment> {
  const disposers: (() => Promise<unknown>)[] = []
  const dispose = async () => {
    for (const fn of disposers.splice(0).reverse()) await fn().catch(() => undefined)
  }
  try {
    return await buildDeployment(options, disposers, dispose)
  } catch (error) {
    await dispose()
    throw error
  }
}

async function buildDeployment(options: DeploymentOptions, disposers: (() => Promise<unknown>)[], dispose: () => Promise<void>): Promise<Deployment> {
  const redisUrl = options.redisUrl ?? REDIS_URL
  const prefix = uniqueRedisPrefix('qm')
  const keys = queueKeys({ prefix })
  const dataDir = await mkdtemp(join(tmpdir(), 'auditq-qm-'))
  disposers.push(() => rm(dataDir, { recursive: true, force: true }))
  const spillDir = join(dataDir, 'spill')

  let databaseUrl = POSTGRES_URL
  let schema = 'public'
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  disposers.push(() => admin.end())
  if (options.isolation === 'database') {
    const name = uniqueSchema('auditq_qm')
    await admin.query(`create database "${name}"`)
    disposers.push(() => admin.query(`drop database if exists "${name}" with (force)`))
    const url = new URL(POSTGRES_URL)
    url.pathname = `/${name}`
    databaseUrl = url.toString()
  } else {
    schema = uniqueSchema('qm')
    disposers.push(() => admin.query(`drop schema if exists "${schema}" cascade`))
  }
  // The assertion pool never times out, whatever the database's own statement_timeout.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 3, options: `-c search_path=${schema} -c statement_timeout=0` })
  db.on('error', () => undefined)
  disposers.push(() => db.end())

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  redis.on('error', () => undefined) // stories that stop Redis see failed commands, not crashes
  disposers.push(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })

  // Only this deployment's settings: an AUDITQ_* variable of the developer's shell must not leak in.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AUDITQ_')))
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    AUDITQ_DATABASE_URL: databaseUrl,
    AUDITQ_DATABASE_SCHEMA: schema,
    AUDITQ_REDIS_URL: redisUrl,
    AUDITQ_QUEUE_PREFIX: prefix,
    AUDITQ_QUEUE_NAME: 'default',
    AUDITQ_DATA_DIR: dataDir,
    AUDITQ_SPILL_DIR: spillDir,
    AUDITQ_LOG_LEVEL: 'info',
  }
  const children: { kill(signal: NodeJS.Signals): void; exited: Promise<unknown> }[] = []
  // Children first: a worker still writing would race the schema being dropped.
  disposers.push(async () => {
    for (const child of children) child.kill('SIGKILL')
    await Promise.all(children.map((child) => child.exited))
  })
  const producerQueue = { prefix, spillDir, replayEveryMs: 100 }

  return {
    databaseUrl,
    schema,
    redisUrl,
    prefix,
    keys,
    spillDir,
    env,
    redis,
    db,
    // The application's events: auditq's own records (the access trail's start and stop of each
    // process) are chained into the same table and are not what these tests count.
    storedIds: async () => (await db.query<{ id: string }>(`select id from audit_logs where ${APPLICATION_EVENTS}`)).rows.map((row) => row.id),
    storedCount: async () => Number((await db.query<{ n: string }>(`select count(*) as n from audit_logs where ${APPLICATION_EVENTS}`)).rows[0]!.n),
    pendingFor: async (consumer) => {
      const summary = (await redis.xpending(keys.events, keys.group)) as [number, string | null, string | null, [string, string][] | null]
      return Number(summary[3]?.find(([name]) => name === consumer)?.[1] ?? 0)
    },
    openLogger: async (queue = {}) => {
      const audit = await createAuditLogger({
        databaseUrl,
        databaseSchema: schema,
        redisUrl,
        logger: createLogger({ level: 'silent' }),
        queue: { ...producerQueue, ...queue },
      })
      disposers.push(() => audit.close())
      return audit
    },
    spawnWorker: () => {
      const child = spawnCli(['worker'], env)
      children.push(child)
      return child
    },
    spawnProducer: (queue, phases, sdk = {}) => {
      const options = { ...sdk, databaseUrl, databaseSchema: schema, redisUrl, queue: { ...producerQueue, ...queue } }
      const child = spawnProducerProcess(options, phases, env)
      children.push(child)
      return child
    },
    runCli: (args) => runCli(args, env),
    dispose,
  }
}

/** A child process whose stderr carries pino's JSON lines. */
export interface CliProcess {
  readonly pid: number
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Parsed log lines so far, optionally only those with this `msg`. */
  logs(msg?: string): Record<string, unknown>[]
  /** Resolves with the first log line with this `msg` (already seen or still to come). */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>
  /** The last of everything it wrote on stderr, for failure messages. */
  tail(): string
  kill(signal: NodeJS.Signals): void
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  return watch(spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] }))
}

function watch(child: ChildProcess): CliProcess {
  const lines: Record<string, unknown>[] = []
  const waiters = new Set<() => void>()
  let tail = ''
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail = (tail + line + '\n').slice(-4_000)
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      return // not a log line (a crash trace); kept in the tail
    }
    for (const wake of waiters) wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal })
      for (const wake of waiters) wake()
    })
  })
  const logs = (msg?: string) => (msg === undefined ? [...lines] : lines.filter((line) => line.msg === msg))
  return {
    pid: child.pid!,
    exited,
    logs,
    tail: () => tail,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    waitForLog: (msg, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = logs(msg)[0]
          if (found) return finish(() => resolve(found))
          if (child.exitCode !== null || child.signalCode !== null) finish(() => reject(new Error(`exited before logging "${msg}":\n${tail}`)))
        }
        const timer = setTimeout(() => finish(() => reject(new Error(`no "${msg}" within ${timeoutMs} ms:\n${tail}`))), timeoutMs)
        const finish = (settle: () => void) => {
          clearTimeout(timer)
          waiters.delete(check)
          settle()
        }
        waiters.add(check)
        check()
      }),
  }
}

export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** One round of a producer child's logging: `count` events, every `criticalEvery`-th critical. */
export interface ProducerPhase {
  count: number
  criticalEvery?: number
  /** log() calls awaited together. */
  concurrency?: number
}

export interface ProducerStats {
  enqueued: number
  overflowed: number
  spilled: number
  replayed: number
  refused: number
  queueUnavailable: number
}

export interface ProducerProcess extends Omit<CliProcess, 'logs' | 'waitForLog'> {
  /** Resolves with its stats once every phase has been logged and acknowledged (it then idles). */
  idle: Promise<ProducerStats>
  /** Ids whose log() resolved, by category. */
  acknowledged(): { critical: string[]; other: string[] }
  refusals(): string[]
}

function spawnProducerProcess(options: object, phases: ProducerPhase[], env: NodeJS.ProcessEnv): ProducerProcess {
  const child = spawn(process.execPath, [PRODUCER, JSON.stringify(options), JSON.stringify(phases)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const critical: string[] = []
  const other: string[] = []
  const refusals: string[] = []
  let tail = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (tail = (tail + chunk).slice(-4_000)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const idle = new Promise<ProducerStats>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [kind, value, category] = line.split(' ')
      if (kind === 'ACK') (category === 'critical' ? critical : other).push(value!)
      else if (kind === 'REFUSED') refusals.push(value!)
      else if (kind === 'IDLE') resolve(JSON.parse(line.slice('IDLE '.length)) as ProducerStats)
    })
    void exited.then(({ code, signal }) => reject(new Error(`producer exited (${code ?? signal}) before it was idle:\n${tail}`)))
  })
  idle.catch(() => undefined) // a producer killed on purpose after idling must not leave a rejection
  return {
    pid: child.pid!,
    exited,
    idle,
    tail: () => tail,
    acknowledged: () => ({ critical: [...critical], other: [...other] }),
    refusals: () => [...refusals],
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
  }
}

/** Polls until `check` returns true, or fails with `describe()` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, options: { timeoutMs: number; intervalMs?: number; describe: () => Promise<string> | string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms: ${await options.describe()}`)
    await sleep(options.intervalMs ?? 100)
  }
}

/** What is in `expected` but not in `actual`, and what is in `actual` but not in `expected`. */
export function difference(expected: readonly string[], actual: readonly string[]): { missing: string[]; unexpected: string[] } {
  const have = new Set(actual)
  const want = new Set(expected)
  return { missing: expected.filter((id) => !have.has(id)), unexpected: actual.filter((id) => !want.has(id)) }
}
