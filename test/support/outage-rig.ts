/**
 * What a store-outage test needs: a private PostgreSQL it may stop and start, a store opened on
 * it, and a Redis connection with a prefix of its own. Every resource registers its cleanup with
 * the caller's list, in the order that undoes it (the caller runs the list in reverse).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectRedis } from '../../src/queue/redis-streams/index.js'
import { openStore } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import type { Logger } from '../../src/util/logger.js'
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js'
import { deleteKeys, uniqueRedisPrefix } from './redis-server.js'
import { REDIS_URL } from './services.js'

export interface OutageRig {
  server: PrivatePostgres
  store: Store
  redis: ReturnType<typeof connectRedis>
  prefix: string
}

export async function openOutageRig(label: string, logger: Logger, cleanups: (() => Promise<unknown>)[]): Promise<OutageRig> {
  const server = await startPrivatePostgres()
  cleanups.push(() => server.destroy())
  const dataDir = await mkdtemp(join(tmpdir(), `auditq-${label}-`))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const store = await openStore({ databaseUrl: server.url, dataDir, logger })
  cleanups.push(() => store.close())
  const prefix = uniqueRedisPrefix(label)
  const redis = connectRedis(REDIS_URL)
  cleanups.push(async () => {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })
  return { server, store, redis, prefix }
}
