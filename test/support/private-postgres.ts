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
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

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

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'auditq-pg-'))
  const user = process.getuid?.() === 0 ? owner() : undefined
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const as = user ? { uid: user.uid, gid: user.gid } : {}
  const exec = (file: string, args: string[]) => run(file, args, { ...as, env: { ...process.env, LC_ALL: 'C' }, timeout: 60_000 })
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const port = await freePort()
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=40 -c shared_buffers=16MB`
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
