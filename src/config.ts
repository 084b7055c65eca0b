import { z } from 'zod'
import { postgresUrl } from './config/fields.js'
import { accessSchema, httpSchema, securitySchema, viewerSchema } from './config/http.js'
import { groupCommitSchema, queueSchema, workerSchema } from './config/intake.js'
import { completenessSchema, integritySchema } from './config/integrity.js'
import { feedSchema, monitoringSchema, reportsSchema, streamsSchema } from './config/outputs.js'
import { readSettingsFromEnv } from './config/settings.js'
import { partitionsSchema, readsSchema, retentionSchema, searchSchema, shreddingSchema } from './config/store.js'
import { AuditqError } from './errors.js'

export { PARTITION_INTERVALS, type PartitionInterval } from './config/store.js'

/**
 * The one typed configuration. Built once from environment + flags, validated, frozen and passed
 * down; nothing below this file reads process.env. Units are in the names.
 */
const configSchema = z.strictObject({
  /** PostgreSQL connection string; absent means the embedded file store. */
  databaseUrl: postgresUrl().optional(),
  /** PostgreSQL schema holding auditq's tables (created if missing); lets several deployments share a database. */
  databaseSchema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case identifier').default('public'),
  /** Where the embedded store keeps its files. */
  dataDir: z.string().min(1).default('./.auditq'),
  /**
   * The embedded store's SQLite driver: `auto` takes better-sqlite3 when its native binding loads,
   * else Node.js's built-in node:sqlite (Node.js 22.13+); the others force one. See
   * src/store/embedded/sqlite-driver.ts.
   */
  embeddedDriver: z.enum(['auto', 'better-sqlite3', 'node:sqlite']).default('auto'),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65_535).default(3000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** CLI log lines: `auto` is pino-pretty on a terminal and JSON otherwise. */
  logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
  defaultTenant: z.string().min(1).max(128).default('default'),
  groupCommit: groupCommitSchema,
  /** redis://… enables queue mode: `log()` enqueues and workers drain into the store. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  queue: queueSchema,
  worker: workerSchema,
  /** Health rules, the history sampler and alert delivery (docs/monitoring.md lists every rule). */
  monitoring: monitoringSchema,
  http: httpSchema,
  integrity: integritySchema,
  retention: retentionSchema,
  /** The record of access to the trail, `auditq.*` events (see docs/access-trail.md). */
  access: accessSchema,
  /** Word search (docs/viewer.md#search): the backfill of events stored before search existed. */
  search: searchSchema,
  /** Streams to SIEMs (docs/streaming.md): how deliverers hold and renew their leases. */
  streams: streamsSchema,
  /** API keys, rate limits, redaction (see docs/security.md). */
  security: securitySchema,
  reports: reportsSchema,
  /** The embeddable viewer (`<auditq-viewer>`, docs/viewer.md). */
  viewer: viewerSchema,
  /**
   * Crypto-shredding (docs/erasure.md): off unless `subjectField` is set. Then the subject field and
   * `fields` are stored sealed under a per-subject data key, and `auditq erase` destroys the key.
   */
  shredding: shreddingSchema,
  /**
   * Reads (query, export, reports, verify) must never starve ingest. On PostgreSQL they run on a
   * pool of their own, so the write pool stays free for inserts, the worker and the chain.
   */
  reads: readsSchema,
  /** The time-partitioned PostgreSQL layout (docs/scaling.md "Time-partitioned PostgreSQL"). */
  partitions: partitionsSchema,
  /** Producer sequences and the completeness check (src/completeness/, docs/integrity.md "Completeness"). */
  completeness: completenessSchema,
  /** The feed (GET /v1/feed, `auditq tail`) and its OCSF form; see docs/feed.md. */
  feed: feedSchema,
})

export type Config = Readonly<z.infer<typeof configSchema>>
export type ConfigInput = z.input<typeof configSchema>

/** The environment's settings (the table in src/config/settings.ts) as a config source. */
export function configFromEnv(env: NodeJS.ProcessEnv): Partial<ConfigInput> {
  return readSettingsFromEnv(env) as Partial<ConfigInput>
}

/** Later sources win: `loadConfig(configFromEnv(process.env), flags)`. */
/**
 * AUDITQ_EMBEDDED_DRIVER for callers that open the embedded store without a Config (the SDK's
 * `createAuditLogger`, `createEmbeddedStore`): which driver works is a property of the machine
 * (its Node.js, how npm installed the app), so the deployment's variable applies there too.
 */
export function embeddedDriverFromEnv(env: NodeJS.ProcessEnv): Config['embeddedDriver'] {
  const value = env.AUDITQ_EMBEDDED_DRIVER
  if (value === undefined || value === '') return 'auto'
  const parsed = configSchema.shape.embeddedDriver.safeParse(value)
  if (!parsed.success) {
    throw new AuditqError('AUDITQ_CONFIG', `invalid configuration: AUDITQ_EMBEDDED_DRIVER: must be one of auto, better-sqlite3, node:sqlite (got ${JSON.stringify(value)})`)
  }
  return parsed.data
}

export function loadConfig(...sources: Partial<ConfigInput>[]): Config {
  const merged: Record<string, unknown> = {}
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      if (value === undefined) continue
      const existing = merged[key]
      merged[key] =
        isPlainObject(existing) && isPlainObject(value) ? { ...existing, ...value } : value
    }
  }
  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    throw new AuditqError('AUDITQ_CONFIG', `invalid configuration: ${problems.join('; ')}`, { details: problems })
  }
  return deepFreeze(parsed.data)
}

/**
 * Every setting at its default: what a library caller who passes no options gets. Components
 * that take partial options fill the rest from here, never from constants of their own.
 */
export const CONFIG_DEFAULTS: Config = loadConfig()

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
