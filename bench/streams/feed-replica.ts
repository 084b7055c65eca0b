/**
 * `--feed-replica`: the deliverers read the feed from a hot standby on the delivery side, as
 * docs/streaming.md suggests for a database host that ingest keeps busy. The shared server cannot
 * be given a standby without changing its replication settings, so this starts a private primary
 * (with the shared server's durability and sizes: fsync on, 128 MB shared buffers, 100
 * connections) and a standby of it (`pg_basebackup -R`). Every variant of the run, the no-streams
 * baseline included, writes to that primary with the standby attached: the standby is part of
 * the deployment whether streams run or not, and its WAL sender's cost lands in both.
 */
import pg from 'pg'
import { type PrivatePostgres, startPrivatePostgres, startReplicaOf } from '../../test/support/private-postgres.js'
import { readProcs } from '../e2e/cpu.js'
import { pin } from './cpu-layout.js'

const SETTINGS = { fsync: 'on', shared_buffers: '128MB', max_connections: '100' }

export interface FeedReplica {
  primaryUrl: string
  replicaUrl: string
  /** The standby's postmaster: the root of its processes. */
  replicaRoot: number
  /** Pins the standby's postmaster and every process it runs to `cpus`; new backends inherit it. */
  pinReplica(cpus: string): void
  /** Stops both servers and removes their directories. */
  close(): Promise<void>
  /** For an exit handler, where nothing asynchronous runs: an immediate shutdown of both servers. */
  killNow(): void
}

function parentOf(pid: number): number {
  const ppid = readProcs().get(pid)?.ppid
  if (ppid === undefined) throw new Error(`process ${pid} is gone`)
  return ppid
}

function childrenOf(root: number): number[] {
  return [...readProcs()].filter(([, sample]) => sample.ppid === root).map(([pid]) => pid)
}

/** A server's postmaster: the parent of a backend of its own. */
async function postmasterOf(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return parentOf(Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid))
  } finally {
    await client.end()
  }
}

export async function startFeedReplica(): Promise<FeedReplica> {
  const primary: PrivatePostgres = await startPrivatePostgres({ settings: SETTINGS })
  const replica = await startReplicaOf(primary, { settings: SETTINGS })
  const primaryRoot = await postmasterOf(primary.url)
  const replicaRoot = await postmasterOf(replica.url)
  let closed = false
  return {
    primaryUrl: primary.url,
    replicaUrl: replica.url,
    replicaRoot,
    pinReplica: (cpus) => {
      for (const pid of [replicaRoot, ...childrenOf(replicaRoot)]) {
        try {
          pin(pid, cpus)
        } catch {
          // A backend that exited meanwhile.
        }
      }
    },
    close: async () => {
      closed = true
      await replica.destroy()
      await primary.destroy()
    },
    killNow: () => {
      if (closed) return
      for (const pid of [replicaRoot, primaryRoot]) {
        try {
          process.kill(pid, 'SIGQUIT') // PostgreSQL's immediate shutdown
        } catch {
          // already gone
        }
      }
    },
  }
}
