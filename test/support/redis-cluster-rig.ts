/**
 * One private Redis Cluster for a test file, with a scratch directory and whatever the tests open
 * on the cluster. After the file's tests, what they opened closes first (the last opened first),
 * then the cluster stops and the directory goes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { startRedisCluster, type RedisTestCluster } from './redis-cluster.js'

export interface RedisClusterRig {
  /** Started in `beforeAll`. */
  readonly cluster: RedisTestCluster
  /** A scratch directory for the tests' data dirs. */
  readonly dir: string
  /** Runs after the file's tests, before the cluster stops. A cleanup that fails does not stop the others. */
  onCleanup(cleanup: () => Promise<unknown>): void
}

/** Call inside a `describe`: registers the hooks that start and remove the rig. */
export function useRedisCluster(options: { dirPrefix: string }): RedisClusterRig {
  let cluster: RedisTestCluster | undefined
  let dir: string | undefined
  const cleanups: (() => Promise<unknown>)[] = []

  // Six redis-server processes and `--cluster create`: more than the default hook timeout on a busy machine.
  beforeAll(async () => {
    cluster = await startRedisCluster()
    dir = await mkdtemp(join(tmpdir(), options.dirPrefix))
  }, 60_000)

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    await cluster?.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  return {
    get cluster() {
      if (!cluster) throw new Error('the Redis Cluster starts in beforeAll')
      return cluster
    },
    get dir() {
      if (!dir) throw new Error('the scratch directory is made in beforeAll')
      return dir
    },
    onCleanup: (cleanup) => void cleanups.push(cleanup),
  }
}
