import { execFile, spawnSync } from 'node:child_process'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * A private PostgreSQL cluster in a temp dir (`initdb` + `pg_ctl`), for tests that stop and restart
 * the database itself: the shared server must never go down under other engineers' tests.
 * PostgreSQL refuses to run as root, so under root every command runs as the `postgres` user.
 */
export interface PostgresTestServer {
  readonly port: number
  /** Connection string for the `postgres` database as the `postgres` superuser (trust auth). */
  readonly url: string
  /** Fast shutdown: open connections are cut, as when the database goes away. */
  stop(): Promise<void>
  /** Starts again on the same port and data dir. */
  start(): Promise<void>
  /** Stops the server and deletes its data dir. */
  destroy(): Promise<void>
}

/** Same contract as `redisServerAvailable`: are `initdb` and `pg_ctl` on PATH (and usable)? */
export function postgresServerAvailable(): boolean {
  const found = ['initdb', 'pg_ctl'].every((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0)
  const usable = found && (userInfo().uid !== 0 || spawnSync('id', ['postgres'], { stdio: 'ignore' }).status === 0)
  if (!usable && process.env.CI === 'true') throw new Error('initdb/pg_ctl (and, under root, a postgres user) are required in CI')
  return usable
}

export async function startPostgresServer(): Promise<PostgresTestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'auditq-pg-'))
  const asRoot = userInfo().uid === 0
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
    await chown(dir, Number(ids.stdout.trim()), Number(gid.stdout.trim()))
  }
  const exec = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', tool, ...args]) : run(tool, args))
  const data = join(dir, 'data')
  try {
    await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions'])
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const port = await freePort()
  // Socket in the temp dir (not /var/run), fsync off: a test cluster needs no durability.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=30`
  const start = async () => {
    await exec('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start'])
  }
  const stop = async () => {
    await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined)
  }
  await start()
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: async () => {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
