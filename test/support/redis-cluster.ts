/**
 * A private Redis Cluster of three masters and three replicas (`redis-server --cluster-enabled yes`
 * on free ports, joined by `redis-cli --cluster create`), for tests that fail a master over.
 * Nothing here is shared with the machine's own Redis.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { freePort } from './free-port.js'

const run = promisify(execFile)

export interface ClusterNode {
  readonly port: number
  readonly process: ChildProcess
}

export interface RedisTestCluster {
  /** A URL naming one node (what `AUDITQ_REDIS_URL` gets in cluster mode). */
  readonly url: string
  /** Every node as `host:port` (what `AUDITQ_REDIS_CLUSTER_NODES` gets), dead ones included. */
  readonly nodeList: string[]
  readonly nodes: readonly ClusterNode[]
  /** The master's port serving `key`'s slot right now, and its replicas' ports. */
  ownerOf(key: string): Promise<{ master: number; replicas: number[] }>
  /** SIGKILL: a crash, nothing saved. */
  kill(port: number): void
  /**
   * Cuts `replica` off its master: the replica is frozen (SIGSTOP) and the master drops the
   * replication link, so nothing the master accepts from now on reaches it — the window of
   * asynchronous replication, made certain. (A frozen replica alone still receives: the kernel
   * buffers what the master sends.) `rejoin` thaws it.
   */
  isolate(replica: number, master: number): Promise<void>
  rejoin(replica: number): void
  /** Resolves once `port`'s replica has taken over its slots and the cluster is healthy again. */
  waitForFailover(oldMaster: number, key: string, timeoutMs?: number): Promise<number>
  destroy(): Promise<void>
}

/** Node timeout: how long a master may be silent before the cluster fails it over. Short, so tests are quick. */
const NODE_TIMEOUT_MS = 1_000

/**
 * Starts a cluster, trying again on fresh ports when a start fails: the ports are picked free and
 * released before redis-server binds them, so a test file starting its own cluster (or any other
 * process) at the same moment can take one in between, and that node never answers.
 */
export async function startRedisCluster(): Promise<RedisTestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce()
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

async function startClusterOnce(): Promise<RedisTestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'auditq-redis-cluster-'))
  const nodes: ClusterNode[] = []
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freePort()
      const busPort = await freePort()
      const nodeDir = join(dir, String(port))
      await mkdir(nodeDir)
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', nodeDir,
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
          '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', join(nodeDir, 'log'),
        ],
        { stdio: 'ignore' },
      )
      nodes.push({ port, process: child })
    }
    await Promise.all(nodes.map((node) => untilAnswers(node.port)))
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 })
    await untilHealthy(nodes[0]!.port, 6)
    await untilEveryMasterHasReplica(nodes[0]!.port)
  } catch (error) {
    for (const node of nodes) node.process.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw error
  }

  const ownerOf = async (key: string) => {
    const client = await anyLiveClient(nodes)
    try {
      const slot = (await client.call('CLUSTER', 'KEYSLOT', key)) as number
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, ...[string, number, string][]][]
      for (const [from, to, master, ...replicas] of ranges) {
        if (master && slot >= from && slot <= to) return { master: master[1], replicas: replicas.map((r) => r[1]) }
      }
      throw new Error(`no node serves slot ${slot}`)
    } finally {
      client.disconnect()
    }
  }
  const signal = (port: number, sig: NodeJS.Signals) => {
    const node = nodes.find((n) => n.port === port)
    if (!node) throw new Error(`no cluster node on port ${port}`)
    node.process.kill(sig)
  }
  return {
    url: `redis://127.0.0.1:${nodes[0]!.port}`,
    nodeList: nodes.map((node) => `127.0.0.1:${node.port}`),
    nodes,
    ownerOf,
    kill: (port) => signal(port, 'SIGKILL'),
    async isolate(replica, master) {
      signal(replica, 'SIGSTOP')
      const client = new Redis(master, '127.0.0.1', { maxRetriesPerRequest: 0 })
      try {
        await client.call('CLIENT', 'KILL', 'TYPE', 'replica')
      } finally {
        client.disconnect()
      }
    },
    rejoin: (port) => signal(port, 'SIGCONT'),
    async waitForFailover(oldMaster, key, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        try {
          const owner = await ownerOf(key)
          if (owner.master !== oldMaster) {
            await untilHealthy(owner.master, 5)
            return owner.master
          }
        } catch {
          // A node being failed over may not answer for a moment.
        }
        if (Date.now() > deadline) throw new Error(`no failover of ${oldMaster} within ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
    async destroy() {
      for (const node of nodes) {
        node.process.kill('SIGCONT')
        node.process.kill('SIGKILL')
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function untilAnswers(port: number): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.ping()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
    } finally {
      client.disconnect()
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Until the node says the cluster is `ok` and knows at least `nodes` reachable members. */
async function untilHealthy(port: number, nodes: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      await client.connect()
      const info = (await client.call('CLUSTER', 'INFO')) as string
      const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1] ?? 0)
      if (/cluster_state:ok/.test(info) && known >= nodes) return
    } catch {
      // Not up yet.
    } finally {
      client.disconnect()
    }
    if (Date.now() > deadline) throw new Error(`redis cluster on ${port} not healthy within 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** `--cluster create` returns before the replicas have attached: wait until every slot range lists one. */
async function untilEveryMasterHasReplica(port: number): Promise<void> {
  const deadline = Date.now() + 30_000
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 })
  try {
    for (;;) {
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as unknown[][]
      if (ranges.length > 0 && ranges.every((range) => range.length >= 4)) return
      if (Date.now() > deadline) throw new Error('redis cluster replicas did not attach within 30 s')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    client.disconnect()
  }
}

async function anyLiveClient(nodes: readonly ClusterNode[]): Promise<Redis> {
  for (const node of nodes) {
    const client = new Redis(node.port, '127.0.0.1', { lazyConnect: true, connectTimeout: 300, commandTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.ping()
      return client
    } catch {
      client.disconnect()
    }
  }
  throw new Error('no cluster node answers')
}
