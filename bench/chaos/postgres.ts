/**
 * A private PostgreSQL 15 in a temp dir on a free port, for scenarios that stop it (`pg_ctl stop -m
 * immediate`, a crash as far as clients can tell) and start it again. PostgreSQL refuses to run as
 * root, so as root every pg_ctl/initdb runs as the `postgres` user through `runuser`.
 */
import { chownSync, mkdtempSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { onCleanup, removeDir, run } from './cleanup.js'
import { freePort } from '../../test/support/free-port.js'

const BIN = process.env.AUDITQ_CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin'
const OS_USER = 'postgres'

export interface PrivatePostgres {
  readonly url: string
  readonly port: number
  /** A crash as clients see it: no checkpoint, connections cut. */
  stopImmediate(): void
  start(): void
  destroy(): void
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const root = userInfo().uid === 0
  const dir = mkdtempSync(join(tmpdir(), 'auditq-chaos-pg-'))
  const forget = onCleanup(`PostgreSQL dir ${dir}`, () => removeDir(dir))
  const data = join(dir, 'data')
  if (root) chownSync(dir, uidOf(OS_USER), gidOf(OS_USER))
  const as = (command: string, args: string[]) => (root ? run('runuser', ['-u', OS_USER, '--', join(BIN, command), ...args]) : run(join(BIN, command), args))
  as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  const port = await freePort()
  const start = () => as('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start'])
  const stopImmediate = () => as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
  start()
  const unregisterServer = onCleanup(`PostgreSQL on port ${port}`, () => {
    try {
      stopImmediate()
    } catch {
      // not running
    }
  })
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stopImmediate,
    start,
    destroy: () => {
      unregisterServer()
      forget()
    },
  }
}

function uidOf(user: string): number {
  return Number(run('id', ['-u', user]).trim())
}
function gidOf(user: string): number {
  return Number(run('id', ['-g', user]).trim())
}
