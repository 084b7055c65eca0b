/**
 * The store's connection pools, one per kind of work so none waits behind another: writes, reads
 * (with `statement_timeout`), API key lookups, and optionally a streaming replica's reads with the
 * router that decides when to use it. Every connection starts with `search_path=<schema>` and
 * `TimeZone=UTC` in its startup packet.
 */
import pg from 'pg'
import type { Logger } from '../../util/logger.js'
import { ReplicaRouter } from './replica-router.js'

export interface StorePools {
  /** Inserts, chain, checkpoints, retention, ping. */
  write: pg.Pool
  /** Query, export, reports, verify, feed. */
  read: pg.Pool
  /** API key lookups. */
  keys: pg.Pool
  replica?: { pool: pg.Pool; router: ReplicaRouter }
}

/** Resolved settings (createPostgresStore fills the defaults). */
export interface PoolSettings {
  connectionString: string
  schema: string
  applicationName: string
  poolMax: number
  readPoolMax: number
  readStatementTimeoutMs: number
  connectTimeoutMs: number
  idleTimeoutMs: number
  readReplica?: { connectionString: string; maxLagMs: number; probeEveryMs: number } | undefined
  logger?: Logger | undefined
}

export function openPools(settings: PoolSettings): StorePools {
  const { connectionString, extraOptions } = splitStartupOptions(settings.connectionString)
  const applicationName = settings.applicationName
  const makePool = (role: { max: number; applicationName: string; settings: string; connection?: { connectionString: string; extraOptions: string } }) => {
    const target = role.connection ?? { connectionString, extraOptions }
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      max: role.max,
      application_name: role.applicationName,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      idleTimeoutMillis: settings.idleTimeoutMs,
      // Ours come last so a URL's own `options` (e.g. statement_timeout) can never move the schema.
      options: [target.extraOptions, `-c search_path=${settings.schema} -c TimeZone=UTC`, role.settings].filter(Boolean).join(' '),
    })
    // Without a listener an idle connection's error (server restart, network drop) would crash the
    // process. The pool has already discarded that connection and opens a new one on demand; the
    // next statement that still fails reports to its caller, so here we only log.
    pool.on('error', (error) => settings.logger?.warn({ err_message: error.message }, 'postgres: idle connection failed and was discarded'))
    // The pool listens only while a connection sits idle in it. One checked out and quiet between
    // statements (the retention lock's session for a whole run, a verify snapshot while Node
    // hashes) would crash the process on a server restart or pg_terminate_backend (a test did).
    // Its holder learns of it from its next statement and releases it as broken; nothing to do here.
    pool.on('connect', (client) => client.on('error', () => undefined))
    return pool
  }
  const pool = makePool({ max: settings.poolMax, applicationName, settings: '' })
  // Its own application_name, so pg_stat_activity tells a stuck read from a stuck write.
  const readPool = makePool({
    max: settings.readPoolMax,
    applicationName: `${applicationName}-read`,
    settings: `-c statement_timeout=${settings.readStatementTimeoutMs}`,
  })
  // API key lookups get two connections of their own: rare once the resolver caches them, but a
  // request waits on one, so it must never queue behind an export or a batch insert.
  const keysPool = makePool({ max: 2, applicationName: `${applicationName}-keys`, settings: '' })
  let replica: { pool: pg.Pool; router: ReplicaRouter } | undefined
  if (settings.readReplica) {
    const split = splitStartupOptions(settings.readReplica.connectionString)
    const replicaPool = makePool({
      max: settings.readPoolMax,
      applicationName: `${applicationName}-replica`,
      settings: `-c statement_timeout=${settings.readStatementTimeoutMs}`,
      connection: split,
    })
    const router = new ReplicaRouter(readPool, replicaPool, {
      maxLagMs: settings.readReplica.maxLagMs,
      probeEveryMs: settings.readReplica.probeEveryMs,
      logger: settings.logger,
    })
    replica = { pool: replicaPool, router }
  }
  return { write: pool, read: readPool, keys: keysPool, ...(replica ? { replica } : {}) }
}

/**
 * node-postgres lets an `options` query parameter in the URL replace the pool's `options`
 * entirely, which would silently drop our search_path (events written to `public`). Take it out
 * of the URL and merge it instead.
 */
export function splitStartupOptions(connectionString: string): { connectionString: string; extraOptions: string } {
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    return { connectionString, extraOptions: '' }
  }
  const extraOptions = url.searchParams.get('options') ?? ''
  if (!url.searchParams.has('options')) return { connectionString, extraOptions }
  url.searchParams.delete('options')
  return { connectionString: url.toString(), extraOptions }
}

/** host:port/db, never user or password. */
export function describeConnection(connectionString: string): string {
  try {
    const url = new URL(connectionString)
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname || '/'}`
  } catch {
    // Not a URL (e.g. a libpq key=value string): saying nothing beats echoing a password.
    return 'postgres'
  }
}
