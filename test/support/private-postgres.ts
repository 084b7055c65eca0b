/**
 * A private PostgreSQL cluster (initdb + pg_ctl in a temp dir, on a port of its own), for tests
 * that stop the database under a running service and start it again. The shared server must never
 * be stopped: other test files use it at the same time.
 *
 * PostgreSQL refuses to run as root; when the tests run as root the cluster is owned by and run as
 * the `postgres` system user.
 */
import { execFile, spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from './free-port.js'

const run = promisify(execFile)

export interface PrivatePostgres {
  readonly port: number
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  readonly url: string
  /** Fast shutdown: open connections are closed, new ones refused until `start`. */
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

/** Is `initdb` available (and, as root, a `postgres` user to run it)? With CI=true a missing one fails. */
export function privatePostgresAvailable(): boolean {
  const found = spawnSync('initdb', ['--version'], { stdio: 'ignore' }).status === 0 && (process.getuid?.() !== 0 || owner() !== undefined)
  if (!found && process.env.CI === 'true') throw new Error('initdb (and, as root, a postgres user) is required in CI')
  return found
}

/**
 * Server settings on top of the test defaults (fsync off, 16 MB of shared buffers, 40
 * connections), e.g. a bench that wants the shared server's durability and sizes. A standby needs
 * at least the primary's `max_connections`, so give both the same.
 */
export interface PrivatePostgresOptions {
  settings?: Record<string, string>
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const { dir, exec } = privateDir()
  const data = join(dir, 'data')
  try {
    // initdb's trust setup also lets 127.0.0.1 connect for replication (pg_basebackup, standbys).
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return serve(dir, data, exec, options)
}

/**
 * A streaming replica of `primary`: `pg_basebackup -R` into a directory of its own, started on a
 * port of its own as a hot standby. `pauseReplay`/`resumeReplay` hold back what it shows, which is
 * how tests make it lag on purpose. `catchUp` waits until it has replayed everything the primary
 * had written when it was called: asked of the replica itself, because a store read it cannot
 * answer yet (a table it has not replayed) is answered by the primary and proves nothing.
 */
export interface Replica extends PrivatePostgres {
  pauseReplay(): Promise<void>
  resumeReplay(): Promise<void>
  catchUp(timeoutMs?: number): Promise<void>
}

export async function startReplicaOf(primary: PrivatePostgres, options: PrivatePostgresOptions = {}): Promise<Replica> {
  const { dir, exec } = privateDir()
  const data = join(dir, 'data')
  try {
    await exec('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '--no-sync'])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const server = await serve(dir, data, exec, options)
  const sql = async (url: string, text: string): Promise<unknown> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query<{ value: unknown }>(`${text} AS value`)).rows[0]?.value
    } finally {
      await client.end()
    }
  }
  const catchUp = async (timeoutMs = 60_000) => {
    const written = String(await sql(primary.url, 'SELECT pg_current_wal_lsn()::text'))
    const deadline = Date.now() + timeoutMs
    while ((await sql(server.url, `SELECT pg_last_wal_replay_lsn() >= '${written}'::pg_lsn`)) !== true) {
      if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${written} within ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return {
    ...server,
    pauseReplay: async () => void (await sql(server.url, 'SELECT pg_wal_replay_pause()')),
    resumeReplay: async () => void (await sql(server.url, 'SELECT pg_wal_replay_resume()')),
    catchUp,
  }
}

type Exec = (file: string, args: string[]) => Promise<unknown>

function privateDir(): { dir: string; exec: Exec } {
  const dir = mkdtempSync(join(tmpdir(), 'auditq-pg-'))
  const user = process.getuid?.() === 0 ? owner() : undefined
  if (user) chownSync(dir, user.uid, user.gid)
  const as = user ? { uid: user.uid, gid: user.gid } : {}
  return { dir, exec: (file, args) => run(file, args, { ...as, env: { ...process.env, LC_ALL: 'C' }, timeout: 60_000 }) }
}

async function serve(dir: string, data: string, exec: Exec, extra: PrivatePostgresOptions): Promise<PrivatePostgres> {
  const port = await freePort()
  const settings = { fsync: 'off', max_connections: '40', shared_buffers: '16MB', ...extra.settings }
  const options = [`-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`, ...Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`)].join(' ')
  const pgCtl = (args: string[]) => exec('pg_ctl', ['-D', data, '-w', '-t', '60', ...args])
  const server: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => void (await pgCtl(['-m', 'fast', 'stop'])),
    start: async () => void (await pgCtl(['-o', options, '-l', join(dir, 'log'), 'start'])),
    destroy: async () => {
      await pgCtl(['-m', 'immediate', 'stop']).catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await server.start()
  } catch (error) {
    await server.destroy()
    throw error
  }
  return server
}

function owner(): { uid: number; gid: number } | undefined {
  const result = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (result.status !== 0 || group.status !== 0) return undefined
  return { uid: Number(result.stdout.trim()), gid: Number(group.stdout.trim()) }
}

