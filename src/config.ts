import { z } from 'zod'
import { AuditqError } from './errors.js'

/**
 * The one typed configuration. Built once from environment + flags, validated, frozen and passed
 * down; nothing below this file reads process.env. Units are in the names.
 */
const configSchema = z.strictObject({
  /** PostgreSQL connection string; absent means the embedded file store. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
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
  groupCommit: z
    .strictObject({
      /** Upper bound on events per transaction; keeps one commit's latency and lock time bounded. */
      maxBatchEvents: z.number().int().min(1).max(10_000).default(500),
      /**
       * How long the first event of a batch may wait for company. 0 = flush as soon as the
       * current commit returns, which already batches everything that arrived meanwhile.
       */
      maxWaitMs: z.number().int().min(0).max(1_000).default(0),
    })
    .prefault({}),
  /** redis://… enables queue mode: `log()` enqueues and workers drain into the store. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  queue: z
    .strictObject({
      /** Namespace and queue name in Redis (keys `<prefix>:{<name>}:…`). */
      prefix: z.string().min(1).default('auditq'),
      name: z.string().min(1).default('default'),
      /** Un-acknowledged events Redis may hold before producers overflow (the seeds' 10,000). */
      capEvents: z.coerce.number().int().min(1).default(10_000),
      /** Over the cap: spill to the local journal (no loss), block then spill, or drop (counted, refused). */
      overflowPolicy: z.enum(['spill', 'block', 'drop']).default('spill'),
      /** With `block`: how long `log()` waits for room before spilling. */
      blockTimeoutMs: z.number().int().min(0).max(60_000).default(5_000),
      /** Spill journal directory; default `<dataDir>/spill`. */
      spillDir: z.string().min(1).optional(),
      spillMaxBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
      /** How often a producer tries to move spilled events back into the queue. */
      replayEveryMs: z.number().int().min(50).default(1_000),
      /** Run against a Redis whose maxmemory-policy evicts keys (queued events could vanish). */
      allowEvictingRedis: z.boolean().default(false),
    })
    .prefault({}),
  worker: z
    .strictObject({
      /** A batch is written when full or when its oldest event has waited this long. */
      flushIntervalMs: z.number().int().min(1).default(1_000),
      /** Entries pending this long are presumed orphaned by a dead worker and claimed. */
      claimIdleMs: z.number().int().min(100).default(30_000),
      claimEveryMs: z.number().int().min(50).default(5_000),
      retryAttempts: z.number().int().min(1).default(3),
      retryInitialDelayMs: z.number().int().min(1).default(2_000),
      retryMaxDelayMs: z.number().int().min(1).default(30_000),
      /**
       * While a batch waits out a store outage, the store is pinged this often; once it answers
       * again the batch is retried at once instead of sleeping out the rest of a backoff that may
       * have grown to `retryMaxDelayMs`. Bounds how long recovery lags the store's return.
       */
      storeProbeEveryMs: z.number().int().min(50).max(60_000).default(1_000),
      /** SIGTERM: stop reading, write and acknowledge, exit within this. */
      shutdownDeadlineMs: z.number().int().min(100).default(10_000),
      heartbeatEveryMs: z.number().int().min(100).default(2_000),
    })
    .prefault({}),
  /** Health rules, the history sampler and alert delivery (README "Monitoring" lists every rule). */
  monitoring: z
    .strictObject({
      thresholds: z
        .strictObject({
          /** Events waiting in the queue (direct mode: for the group commit) above this: degraded (the seeds' 5,000). */
          queueLengthDegraded: z.coerce.number().int().min(0).default(5_000),
          /** Failed inserts in the last minute above this: critical (the seeds' 100). */
          failuresPerMinuteCritical: z.coerce.number().int().min(0).default(100),
          /** Events dropped (refused over the cap) since the counters began, above this: warning (the seeds' 1,000). */
          droppedEventsWarning: z.coerce.number().int().min(0).default(1_000),
          /** The oldest event not yet stored has waited longer than this: degraded. */
          oldestEventAgeSecondsDegraded: z.coerce.number().min(0).default(60),
          /** Dead letters above this: warning (default: any). */
          deadLettersWarning: z.coerce.number().int().min(0).default(0),
          /** Spilled events waiting for replay above this: warning (default: any). */
          spilledWaitingWarning: z.coerce.number().int().min(0).default(0),
        })
        .prefault({}),
      /** The least severe status for which GET /api/v1/monitoring/health answers 503 (default: anything but healthy). */
      healthFailFrom: z.enum(['warning', 'degraded', 'critical']).default('warning'),
      /** How often the history sampler reads the pipeline, and how much history it keeps. */
      sampleEveryMs: z.coerce.number().int().min(100).default(2_000),
      historyMs: z.coerce.number().int().min(1_000).default(10 * 60_000),
      /** Window for the per-second rates. */
      rateWindowMs: z.coerce.number().int().min(100).default(10_000),
      /** Alert delivery: webhook URLs (Slack-compatible body with the structured alert alongside). */
      alertWebhooks: z.array(z.string().regex(/^https?:\/\//, 'must be an http(s) URL')).default([]),
      /**
       * A rule that holds is notified once (dedup); its resolve is sent when it stops holding. A rule
       * that fires again sooner than this after its last notice is held back until the cooldown ends.
       */
      alertCooldownMs: z.coerce.number().int().min(0).default(5 * 60_000),
      alertTimeoutMs: z.coerce.number().int().min(100).default(5_000),
      alertRetries: z.coerce.number().int().min(0).max(10).default(2),
    })
    .prefault({}),
  http: z
    .strictObject({
      /** 4 MiB fits 1,000 typical events; larger bodies are refused before parsing. */
      bodyLimitBytes: z.number().int().min(1_024).default(4 * 1024 * 1024),
      maxEventsPerRequest: z.number().int().min(1).max(10_000).default(1_000),
      /** One NDJSON line holds one event: 16 KiB metadata plus fields, with room to spare. */
      maxNdjsonLineBytes: z.number().int().min(256).default(64 * 1024),
      maxQueryLimit: z.number().int().min(1).max(10_000).default(1_000),
      defaultQueryLimit: z.number().int().min(1).default(100),
      /**
       * Retry-After on a 503 that a retry can cure (the store or its pool unavailable, the queue
       * unreachable): long enough that clients do not hammer a recovering database, short enough
       * that a failover of a few seconds costs little.
       */
      unavailableRetryAfterSeconds: z.number().int().min(1).max(3_600).default(2),
    })
    .prefault({}),
  integrity: z
    .strictObject({
      /** PEM file of the Ed25519 signing key (`auditq keygen`); env AUDITQ_SIGNING_KEY_FILE. */
      signingKeyFile: z.string().min(1).optional(),
      /** The PEM itself, for platforms that inject secrets as variables; env AUDITQ_SIGNING_KEY. */
      signingKey: z.string().min(1).optional(),
      /**
       * How often `serve` / `worker` sign the chain heads that moved, when a key is configured.
       * Events after the last checkpoint are protected by the chain only, so this bounds the window
       * in which a rewrite by someone with database access can go unnoticed.
       */
      checkpointIntervalMs: z.coerce.number().int().min(1_000).default(15 * 60_000),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Delete events older than this many days; unset = keep forever (retention off). */
      days: z.coerce.number().int().min(1).optional(),
      /** Actions never deleted (comma-separated in AUDITQ_RETENTION_KEEP_ACTIONS). */
      keepActions: z
        .preprocess((value) => (typeof value === 'string' ? value.split(',').map((a) => a.trim()).filter(Boolean) : value), z.array(z.string().min(1)))
        .default([]),
      /** How often `serve` / `worker` try a run; only one process at a time actually runs. */
      intervalMs: z.coerce.number().int().min(1_000).default(60 * 60_000),
      /**
       * Rows per delete transaction: short transactions, no long locks beside ingest. Unset: 5,000
       * on PostgreSQL, 500 on the embedded store (retentionChunkRows), whose deletes run on the
       * event loop and hold the file's write lock: a 5,000-row chunk stalls both ~0.4 s.
       */
      chunkRows: z.coerce.number().int().min(1).max(100_000).optional(),
    })
    .prefault({}),
  /** Issue #6: API keys, rate limits, redaction (see README "Security"). */
  security: z
    .strictObject({
      /**
       * Token bucket per API key (per client IP in open mode), per process: N service processes
       * give a key N× this budget. 100 requests/s of up to 1,000 events each is far above one
       * client's honest need; 0 turns the limit off.
       */
      rateLimitPerSecond: z.coerce.number().min(0).default(100),
      /** Requests a quiet key may send at once before the per-second rate applies. */
      rateLimitBurst: z.coerce.number().int().min(1).default(200),
      /**
       * Failed authentications (401) a client address may cause: a burst, then this many per
       * second; past it the address gets 429 before its key is even looked up, so guessing key
       * ids cannot cost a key-store round trip per request. 0 turns it off.
       */
      failedAuthPerSecond: z.coerce.number().min(0).default(1),
      failedAuthBurst: z.coerce.number().int().min(1).default(30),
      /** Metadata keys stored as "[REDACTED]" (case-insensitive, whole words of a key, any depth). */
      redactKeys: z
        .array(z.string().min(1).max(64))
        .default(['password', 'passwd', 'secret', 'token', 'api_key', 'authorization', 'cookie', 'credit_card', 'ssn']),
      /** Store only the network of an IP address (/24 for IPv4, /48 for IPv6), for deployments that treat IPs as personal data. */
      ipTruncation: z.enum(['none', '24/48']).default('none'),
      /** How long a verified key (or "no keys exist") is trusted without asking the store: revocation takes effect within this. */
      keyCacheTtlMs: z.coerce.number().int().min(0).max(300_000).default(10_000),
      /**
       * While the key store cannot be asked (PostgreSQL down), how long past its TTL a key's last
       * answer still stands: queue mode keeps accepting from keys verified before the outage. A
       * key with no answer this young gets 503 AUDITQ_STORE_UNAVAILABLE. An hour covers a
       * database restart or failover; 0 makes every request past the TTL need the store.
       */
      keyCacheMaxStaleMs: z.coerce.number().int().min(0).max(7 * 24 * 3_600_000).default(3_600_000),
      /** After a failed key-store call, answer from the cache without asking for this long, so an outage costs no wait per request. */
      keyStoreRetryMs: z.number().int().min(0).max(60_000).default(1_000),
    })
    .prefault({}),
  reports: z
    .strictObject({
      /** Rows per top list when the caller does not say (`top`). */
      defaultTopN: z.number().int().min(1).max(1_000).default(10),
      /** Upper bound on `top`: each list is one LIMIT, but the page and the CSV grow with it. */
      maxTopN: z.number().int().min(1).max(1_000).default(100),
      /** Error messages listed under each failing action. */
      topErrorsPerAction: z.number().int().min(1).max(100).default(5),
      /**
       * A report still running after this is cancelled (503): it holds a snapshot, which on
       * PostgreSQL holds back vacuum, and a connection. 1M events take well under 2 s.
       */
      timeoutMs: z.number().int().min(1).default(60_000),
      /** Reports running at once per process over HTTP; one more gets 429 with Retry-After. */
      maxConcurrent: z.coerce.number().int().min(1).max(64).default(2),
    })
    .prefault({}),
})

export type Config = Readonly<z.infer<typeof configSchema>>
export type ConfigInput = z.input<typeof configSchema>

/** Environment variables and the config keys they set. */
const ENV_KEYS = {
  AUDITQ_DATABASE_URL: 'databaseUrl',
  AUDITQ_DATABASE_SCHEMA: 'databaseSchema',
  AUDITQ_DATA_DIR: 'dataDir',
  AUDITQ_EMBEDDED_DRIVER: 'embeddedDriver',
  AUDITQ_HOST: 'host',
  AUDITQ_PORT: 'port',
  AUDITQ_LOG_LEVEL: 'logLevel',
  AUDITQ_LOG_FORMAT: 'logFormat',
  AUDITQ_REDIS_URL: 'redisUrl',
} as const

/** Nested settings with their own variables (section, key). */
const NESTED_ENV_KEYS = {
  AUDITQ_QUEUE_CAP: ['queue', 'capEvents'],
  AUDITQ_OVERFLOW_POLICY: ['queue', 'overflowPolicy'],
  AUDITQ_SPILL_DIR: ['queue', 'spillDir'],
  AUDITQ_QUEUE_PREFIX: ['queue', 'prefix'],
  AUDITQ_QUEUE_NAME: ['queue', 'name'],
  AUDITQ_SIGNING_KEY: ['integrity', 'signingKey'],
  AUDITQ_SIGNING_KEY_FILE: ['integrity', 'signingKeyFile'],
  AUDITQ_CHECKPOINT_INTERVAL_MS: ['integrity', 'checkpointIntervalMs'],
  AUDITQ_RETENTION_DAYS: ['retention', 'days'],
  AUDITQ_RETENTION_KEEP_ACTIONS: ['retention', 'keepActions'],
  AUDITQ_RETENTION_INTERVAL_MS: ['retention', 'intervalMs'],
  AUDITQ_RETENTION_CHUNK_ROWS: ['retention', 'chunkRows'],
  AUDITQ_RATE_LIMIT_PER_SECOND: ['security', 'rateLimitPerSecond'],
  AUDITQ_RATE_LIMIT_BURST: ['security', 'rateLimitBurst'],
  AUDITQ_FAILED_AUTH_PER_SECOND: ['security', 'failedAuthPerSecond'],
  AUDITQ_FAILED_AUTH_BURST: ['security', 'failedAuthBurst'],
  AUDITQ_IP_TRUNCATION: ['security', 'ipTruncation'],
  AUDITQ_KEY_CACHE_TTL_MS: ['security', 'keyCacheTtlMs'],
  AUDITQ_KEY_CACHE_MAX_STALE_MS: ['security', 'keyCacheMaxStaleMs'],
  AUDITQ_REPORTS_MAX_CONCURRENT: ['reports', 'maxConcurrent'],
} as const

/** Monitoring settings (section, key) and health thresholds (monitoring.thresholds.key). */
const MONITORING_ENV_KEYS = {
  AUDITQ_HEALTH_FAIL_FROM: 'healthFailFrom',
  AUDITQ_MONITOR_SAMPLE_MS: 'sampleEveryMs',
  AUDITQ_MONITOR_HISTORY_MS: 'historyMs',
  AUDITQ_ALERT_COOLDOWN_MS: 'alertCooldownMs',
} as const
const THRESHOLD_ENV_KEYS = {
  AUDITQ_HEALTH_QUEUE_LENGTH: 'queueLengthDegraded',
  AUDITQ_HEALTH_FAILURES_PER_MINUTE: 'failuresPerMinuteCritical',
  AUDITQ_HEALTH_DROPPED_EVENTS: 'droppedEventsWarning',
  AUDITQ_HEALTH_OLDEST_EVENT_SECONDS: 'oldestEventAgeSecondsDegraded',
  AUDITQ_HEALTH_DEAD_LETTERS: 'deadLettersWarning',
  AUDITQ_HEALTH_SPILLED_WAITING: 'spilledWaitingWarning',
} as const

/** Comma-separated lists (section, key). */
const LIST_ENV_KEYS = {
  AUDITQ_ALERT_WEBHOOKS: ['monitoring', 'alertWebhooks'],
} as const

export function configFromEnv(env: NodeJS.ProcessEnv): Partial<ConfigInput> {
  const fromEnv: Record<string, unknown> = {}
  for (const [variable, key] of Object.entries(ENV_KEYS)) {
    const value = env[variable]
    if (value !== undefined && value !== '') fromEnv[key] = value
  }
  const nested: Record<string, Record<string, unknown>> = {}
  for (const [variable, [section, key]] of Object.entries(NESTED_ENV_KEYS)) {
    const value = env[variable]
    if (value !== undefined && value !== '') (nested[section] ??= {})[key] = value
  }
  for (const [variable, [section, key]] of Object.entries(LIST_ENV_KEYS)) {
    const value = env[variable]
    if (value === undefined || value.trim() === '') continue
    ;(nested[section] ??= {})[key] = value.split(',').map((item) => item.trim()).filter((item) => item !== '')
  }
  for (const [variable, key] of Object.entries(MONITORING_ENV_KEYS)) {
    const value = env[variable]
    if (value !== undefined && value !== '') (nested.monitoring ??= {})[key] = value
  }
  for (const [variable, key] of Object.entries(THRESHOLD_ENV_KEYS)) {
    const value = env[variable]
    if (value === undefined || value === '') continue
    const monitoring = (nested.monitoring ??= {})
    ;((monitoring.thresholds ??= {}) as Record<string, string>)[key] = value
  }
  return { ...fromEnv, ...nested }
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
