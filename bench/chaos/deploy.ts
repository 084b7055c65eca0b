/**
 * One scenario's private world: its own temp dir, PostgreSQL and/or Redis, the environment every
 * `auditq` child gets, and (for the HTTP side) a port and an API key with ingest + admin scopes.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRedisServer, type RedisTestServer } from '../../test/support/redis-server.js'
import { onCleanup, removeDir } from './cleanup.js'
import { freePort } from '../../test/support/free-port.js'
import { startPrivatePostgres, type PrivatePostgres } from './postgres.js'
import { runCliOnce } from './processes.js'

export interface Deployment {
  readonly name: string
  readonly dir: string
  readonly dataDir: string
  readonly env: NodeJS.ProcessEnv
  readonly port: number
  readonly url: string
  readonly postgres?: PrivatePostgres
  readonly redis?: RedisTestServer
  /** ingest + read + admin key (PostgreSQL deployments); undefined = open mode (embedded). */
  apiKey?: string
  destroy(): Promise<void>
}

export interface DeploymentOptions {
  postgres: boolean
  /** Redis server arguments (persistence); absent = direct mode. */
  redisArgs?: string[]
  /** Extra AUDITQ_* settings. */
  env?: Record<string, string>
}

export async function openDeployment(name: string, options: DeploymentOptions): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), `auditq-chaos-${name}-`))
  const forgetDir = onCleanup(`scenario dir ${dir}`, () => removeDir(dir, { logs: true }))
  const dataDir = join(dir, 'data')
  mkdirSync(dataDir)
  const postgres = options.postgres ? await startPrivatePostgres() : undefined
  let redis: RedisTestServer | undefined
  let forgetRedis = () => undefined as void
  if (options.redisArgs) {
    redis = await startRedisServer({ args: options.redisArgs })
    const { port: redisPort, dir: redisDir } = redis
    // Synchronous, for exit handlers: SHUTDOWN NOSAVE ends it whichever process started it.
    forgetRedis = onCleanup(`redis-server on port ${redisPort}`, () => {
      spawnSync('redis-cli', ['-p', String(redisPort), 'shutdown', 'nosave'], { stdio: 'ignore', timeout: 5_000 })
      removeDir(redisDir)
    })
  }
  const port = await freePort()
  // Only this deployment's settings: an AUDITQ_* variable of the caller's shell must not leak in.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AUDITQ_')))
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    AUDITQ_DATA_DIR: dataDir,
    AUDITQ_LOG_LEVEL: 'info',
    AUDITQ_LOG_FORMAT: 'json',
    ...(postgres ? { AUDITQ_DATABASE_URL: postgres.url } : {}),
    ...(redis ? { AUDITQ_REDIS_URL: redis.url } : {}),
    ...options.env,
  }
  const deployment: Deployment = {
    name,
    dir,
    dataDir,
    env,
    port,
    url: `http://127.0.0.1:${port}`,
    ...(postgres ? { postgres } : {}),
    ...(redis ? { redis } : {}),
    destroy: async () => {
      await redis?.destroy().catch(() => undefined)
      forgetRedis()
      postgres?.destroy()
      forgetDir()
    },
  }
  if (postgres) {
    await runCliOnce(['migrate'], env)
    deployment.apiKey = (await runCliOnce(['keys', 'create', '--tenant', 'chaos', '--scopes', 'ingest,read,admin', '--name', 'chaos'], env)).trim()
  }
  return deployment
}
