import { isIP } from 'node:net'
import { z } from 'zod'
import { readSettingsFromEnv } from './config/settings.js'
import { AuditqError } from './errors.js'
import { DEFAULT_REDACT_KEYS } from './event/redact.js'

/** Sizes of the time ranges the partitioned PostgreSQL layout can use (store/postgres/partition-layout.ts). */
export const PARTITION_INTERVALS = ['day', 'week', 'month'] as const
export type PartitionInterval = (typeof PARTITION_INTERVALS)[number]

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
      /**
       * Commits in flight at once. With one, the process and the database take turns (each idle
       * while the other works); two overlap them. Only for stores that write in parallel
       * (PostgreSQL): the embedded store writes on the caller's thread, one commit at a time.
       */
      maxInFlight: z.number().int().min(1).max(16).default(2),
    })
    .prefault({}),
  /** redis://… enables queue mode: `log()` enqueues and workers drain into the store. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  queue: z
    .strictObject({
      /** Namespace and queue name in Redis (keys `<prefix>:{<name>}:…`). */
      prefix: z.string().min(1).default('auditq'),
      name: z.string().min(1).default('default'),
      /**
       * Stream shards the queue is split into, each a complete queue under its own hash tag: on a
       * Redis Cluster they sit on different masters, so the queue's throughput grows with them. The
       * cap applies per shard (total room = capEvents × shards). 1 = the single-stream layout.
       */
      shards: z.coerce.number().int().min(1).max(64).default(1),
      /** Un-acknowledged events Redis may hold before producers overflow (10,000 × ~600-byte events ≈ 6 MB: Redis memory stays bounded while workers catch up). */
      capEvents: z.coerce.number().int().min(1).default(10_000),
      /** Over the cap: spill to the local journal (no loss), block then spill, or drop (counted, refused). */
      overflowPolicy: z.enum(['spill', 'block', 'drop']).default('spill'),
      /** With `block`: how long `log()` waits for room before spilling. */
      blockTimeoutMs: z.number().int().min(0).max(60_000).default(5_000),
      /** Spill journal directory; default `<dataDir>/spill`. */
      spillDir: z.string().min(1).optional(),
      /** Disk a spill may take before `append` refuses: ~2.5 M events of 400 bytes, hours of outage at most rates. */
      spillMaxBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
      /** How often a producer tries to move spilled events back into the queue. */
      replayEveryMs: z.number().int().min(50).default(1_000),
      /** With `block`: how often a waiting `log()` looks for room again. */
      blockPollMs: z.number().int().min(1).max(1_000).default(25),
      /** Commands that get no answer within this are treated as "Redis unavailable" (events spill). */
      redisCommandTimeoutMs: z.number().int().min(1).default(2_000),
      /** A producer sends at most this many events per enqueue script call, so one call never holds Redis long. */
      maxEventsPerCall: z.number().int().min(1).default(1_000),
      /** Run against a Redis whose maxmemory-policy evicts keys (queued events could vanish). */
      allowEvictingRedis: z.boolean().default(false),
      /**
       * `redisUrl` names one node of a Redis Cluster (the client discovers the rest). Each shard's
       * keys share one hash tag, so a shard lives on one master and its replicas (see `shards`).
       */
      cluster: z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(false),
      /** More cluster nodes (`host:port`) to start from, so a client can start while the URL's node is down. */
      clusterNodes: z.preprocess(
        (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
        z.array(z.string().regex(/^[^\s:/]+:\d+$/, 'must be host:port')),
      ).default([]),
      /**
       * Replicas that must confirm a write (Redis `WAIT`) before it counts as accepted: with 1, a
       * failover to that replica loses nothing acknowledged. 0 = acknowledge once the master holds it.
       */
      replicaAcks: z.coerce.number().int().min(0).max(10).default(0),
      /** How long an enqueue waits for those replicas; short of them, the events spill (policy permitting) instead. */
      replicaAckTimeoutMs: z.coerce.number().int().min(1).max(60_000).default(500),
    })
    .prefault({}),
  worker: z
    .strictObject({
      /** A batch is written when full or when its oldest event has waited this long (1 s: a quiet queue still reaches the store within about a second). */
      flushIntervalMs: z.number().int().min(1).default(1_000),
      /** Longest a read blocks when nothing is buffered, so stop() is noticed promptly. */
      idleBlockMs: z.number().int().min(1).default(500),
      /** How often to refresh the queue depth that sizes batches (not every loop: that doubles round trips). */
      depthEveryMs: z.number().int().min(1).default(1_000),
      /**
       * Batch size follows the backlog: small batches keep latency low when the queue is short,
       * large ones amortize per-statement cost when it is long. These are the legacy processor's
       * tiers (100 below 1,000 queued, 300 below 5,000, 1,000 above), so a migrated deployment batches as before.
       */
      batch: z
        .strictObject({
          tiers: z
            .array(z.strictObject({ belowDepth: z.number().int().min(1), size: z.number().int().min(1) }))
            .default([
              { belowDepth: 1_000, size: 100 },
              { belowDepth: 5_000, size: 300 },
            ]),
          /** Size once the depth is above every tier. */
          maxSize: z.number().int().min(1).default(1_000),
        })
        .prefault({}),
      /** Entries pending this long are presumed orphaned by a dead worker and claimed. */
      claimIdleMs: z.number().int().min(100).default(30_000),
      claimEveryMs: z.number().int().min(50).default(5_000),
      /** 3 attempts, exponential from 2 s (≈6 s in all): the legacy processor's schedule, so a migrated deployment dead-letters at the same point. */
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
  /** Health rules, the history sampler and alert delivery (docs/monitoring.md lists every rule). */
  monitoring: z
    .strictObject({
      thresholds: z
        .strictObject({
          /** Events waiting in the queue (direct mode: for the group commit) above this: degraded (5,000: the legacy dashboards' threshold, so existing runbooks still apply). */
          queueLengthDegraded: z.coerce.number().int().min(0).default(5_000),
          /** Failed inserts in the last minute above this: critical (100: the legacy dashboards' threshold). */
          failuresPerMinuteCritical: z.coerce.number().int().min(0).default(100),
          /** Events dropped (refused over the cap) since the counters began, above this: warning (1,000: the legacy dashboards' threshold). */
          droppedEventsWarning: z.coerce.number().int().min(0).default(1_000),
          /** The oldest event not yet stored has waited longer than this: degraded. */
          oldestEventAgeSecondsDegraded: z.coerce.number().min(0).default(60),
          /** Dead letters above this: warning (default: any). */
          deadLettersWarning: z.coerce.number().int().min(0).default(0),
          /** Spilled events waiting for replay above this: warning (default: any). */
          spilledWaitingWarning: z.coerce.number().int().min(0).default(0),
          /** A stream failing this long without a success (or parked): warning, and an alert. */
          streamFailingSeconds: z.coerce.number().int().min(1).default(300),
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
      /**
       * Arrays and objects nested deeper than this in a JSON body or NDJSON line are refused
       * before parsing (parsing `[[[…` builds one array per byte and stalls every other request).
       * An event needs at most 11: three of envelope and 8 of metadata, hence the floor of 16.
       */
      maxJsonDepth: z.coerce.number().int().min(16).max(10_000).default(32),
      /**
       * A request's headers and body must arrive within this, however slowly they trickle (an idle
       * timer would be reset by every byte); then 408 and the connection is closed. A 4 MiB body
       * needs ~17 s at 2 Mbit/s, so 30 s leaves slow links room while bounding how long a stalled
       * upload holds its share of the in-flight body budget.
       */
      requestTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
      /**
       * Request-body bytes one process holds at once, across all connections (each parsed body
       * costs a few times its size until its response is sent). 64 MiB is 16 bodies at the limit,
       * or thousands of ordinary ones; past it, 503 AUDITQ_OVERLOADED with Retry-After.
       */
      maxBodyBytesInFlight: z.coerce.number().int().min(1_024).default(64 * 1024 * 1024),
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
      /**
       * Keep the Merkle tree over each chain and sign its root in every checkpoint (proofs, verifiable
       * bundles). Off only to measure its cost: checkpoints then sign the head alone, as before.
       */
      merkleTree: z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean()).default(true),
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
      /**
       * With an archive stream configured, retention never deletes an event the archive has not
       * confirmed. Off only on purpose (the archive is a copy, not the record of what was kept).
       */
      archiveBeforeDelete: z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean()).default(true),
    })
    .prefault({}),
  /** The record of access to the trail, `auditq.*` events (see docs/access-trail.md). */
  access: z
    .strictObject({
      /**
       * Identical reads (same key, address, tenant and filter) within this window are one aggregate
       * event: a dashboard polling every 2 s writes two events a minute, not thirty. 0 = every read.
       */
      aggregateWindowMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
      /** The tenant whose chain records every access to the trail (the accessed tenant is the resource) and auditq's own start and stop. */
      systemTenant: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/).default('auditq'),
    })
    .prefault({}),
  /** Word search (docs/viewer.md#search): the backfill of events stored before search existed. */
  search: z
    .strictObject({
      /** `serve` fills missing search documents in the background from its start (off: only `auditq search backfill` does). */
      backfillAtStart: z.union([z.boolean(), z.stringbool()]).default(true),
      /** Events per backfill transaction: small enough that each holds its locks for milliseconds. */
      backfillBatchRows: z.coerce.number().int().min(1).max(10_000).default(500),
      /** Pause between the background pass's batches, so ingest on the same store keeps its share of it. */
      backfillPauseMs: z.coerce.number().int().min(0).max(60_000).default(50),
      /** While events lack a document and no pass runs (or the last one failed), how often to count them again or retry. */
      backfillRecheckMs: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
    })
    .prefault({}),
  /** Streams to SIEMs (docs/streaming.md): how deliverers hold and renew their leases. */
  streams: z
    .strictObject({
      /** Run deliverers in this process (`serve` and `worker`); off = this process only manages streams. */
      enabled: z.union([z.boolean(), z.stringbool()]).default(true),
      /**
       * How long a lease lasts unrenewed: a crashed deliverer's streams are taken over after at
       * most this long. Renewed every third of it; a delivery is aborted before its lease could
       * expire, so two processes never send one stream at once.
       */
      leaseTtlMs: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
      /** How often each process looks for streams nobody delivers (new, or whose deliverer died). */
      scanEveryMs: z.coerce.number().int().min(100).max(600_000).default(2_000),
      /** Longest wait for new events when a stream has caught up (commits in this process wake it at once). */
      pollMs: z.coerce.number().int().min(10).max(60_000).default(250),
      /** Retry backoff: first delay and ceiling (exponential, full jitter; Retry-After is honoured above the ceiling). */
      retryInitialDelayMs: z.coerce.number().int().min(10).default(500),
      retryMaxDelayMs: z.coerce.number().int().min(100).default(60_000),
      /**
       * `auditq streams run` only: the niceness it gives itself (os.setPriority, 0–19; 0 leaves it
       * as started). A process that only delivers streams, niced, lets ingest processes on the same
       * host have the cores first; the streams catch up in idle time. Never applied in `serve` or
       * `worker`, where it would slow ingest too. Only raising is allowed: lowering needs privileges.
       */
      processNice: z.coerce.number().int().min(0).max(19).default(0),
    })
    .prefault({}),
  /** API keys, rate limits, redaction (see docs/security.md). */
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
      /**
       * Reverse proxies whose X-Forwarded-For is believed: addresses, CIDRs (10.0.0.0/8) or
       * `loopback` / `linklocal` / `uniquelocal`. Behind a proxy every request arrives from its
       * address, so without this the failed-auth lockout and open-mode rate limit would treat all
       * clients as one. Empty (the default): the header is ignored and the socket's peer is the client.
       */
      trustedProxies: z.array(z.string().trim().refine(isProxyAddress, 'must be an IP address, a CIDR (address/prefix) or loopback, linklocal, uniquelocal')).default([]),
      /** Metadata keys stored as "[REDACTED]" (case-insensitive, whole words of a key, any depth). */
      redactKeys: z
        .array(z.string().min(1).max(64))
        // The list itself lives beside the redaction code: the Workers edition redacts with it and cannot load this file.
        .default([...DEFAULT_REDACT_KEYS]),
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
      /**
       * Reports running at once per process over HTTP, all tenants together; one more gets 503
       * with Retry-After and a message that names no other tenant.
       */
      maxConcurrent: z.coerce.number().int().min(1).max(64).default(2),
      /** Reports one tenant may run at once per process; one more gets 429 (its own use only). */
      maxPerTenant: z.coerce.number().int().min(1).max(64).default(1),
    })
    .prefault({}),
  /** The embeddable viewer (`<auditq-viewer>`, docs/viewer.md). */
  viewer: z
    .strictObject({
      /**
       * HS256 secret that signs viewer tokens; unset = the viewer's routes answer 404. Rotating
       * it invalidates every token minted before. 32+ characters: HS256 wants 256 bits of key.
       */
      signingSecret: z.string().min(32, 'must be at least 32 characters (openssl rand -base64 48)').optional(),
      /**
       * Origins of the application's pages that may embed the viewer: CORS on /viewer.js and the
       * viewer's routes, and `frame-ancestors` of the standalone page. Empty (default): same
       * origin only; never `*`.
       */
      allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin: scheme://host[:port], no path')).default([]),
      /**
       * Display templates per action, `{"user.invited": "{actor_name} invited {targets.user.name}"}`:
       * the viewer, the dashboard and the HTML report render them as text, with a fallback when a
       * field is missing. In AUDITQ_DISPLAY_TEMPLATES as JSON.
       */
      templates: z
        .preprocess((value) => (typeof value === 'string' ? parseJsonSetting(value) : value), z.record(z.string().min(1).max(200), z.string().min(1).max(500)))
        .default({}),
    })
    .prefault({}),
  /**
   * Crypto-shredding (docs/erasure.md): off unless `subjectField` is set. Then the subject field and
   * `fields` are stored sealed under a per-subject data key, and `auditq erase` destroys the key.
   */
  shredding: z
    .strictObject({
      /** The field naming the person the event is about; setting it turns shredding on. */
      subjectField: z.enum(['actor_id', 'resource_id', 'session_id', 'client_id']).optional(),
      /** Personal fields sealed besides the subject field: top-level text fields or `metadata.<key>` paths. */
      fields: z.array(z.string().min(1).max(200)).default([]),
      /** The master key (64 hex digits or base64 of 32 bytes); env AUDITQ_SHRED_MASTER_KEY. */
      masterKey: z.string().min(1).optional(),
      /** A file holding it instead; env AUDITQ_SHRED_MASTER_KEY_FILE. */
      masterKeyFile: z.string().min(1).optional(),
      /**
       * How long a process trusts a data key it has looked up. An erasure made by another process
       * (the CLI beside a running service) takes effect in this one within this long.
       */
      keyCacheTtlMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    })
    .prefault({}),
  /**
   * Reads (query, export, reports, verify) must never starve ingest. On PostgreSQL they run on a
   * pool of their own, so the write pool stays free for inserts, the worker and the chain.
   */
  reads: z
    .strictObject({
      /** Connections of the PostgreSQL read pool; reads wait for one of these, never for a writer's. */
      poolMax: z.coerce.number().int().min(1).max(100).default(8),
      /**
       * Server-side bound on each read statement (a page, one fetch of an export, one verify step),
       * set on every read connection. Reports set their own (`reports.timeoutMs`).
       */
      statementTimeoutMs: z.coerce.number().int().min(100).default(60_000),
      /** Exports streaming at once per process, all tenants together (each holds a read connection). */
      exportMaxConcurrent: z.coerce.number().int().min(1).max(64).default(2),
      /** Exports one tenant may stream at once per process. */
      exportMaxPerTenant: z.coerce.number().int().min(1).max(64).default(1),
      /**
       * An export whose client reads nothing for this long (its socket stays full) is aborted and
       * its cursor and connection released: a client that stops reading must not hold them.
       */
      exportIdleTimeoutMs: z.coerce.number().int().min(100).default(30_000),
      /** Chain verifications at once per process, all tenants together; each tenant runs one at a time. */
      verifyMaxConcurrent: z.coerce.number().int().min(1).max(16).default(2),
      /**
       * A PostgreSQL streaming replica that answers reads (query, export, reports, verify) while it
       * is at most `replicaMaxLagMs` behind; the primary answers them otherwise. Writes, the chain,
       * retention and API keys always use the primary.
       */
      replicaUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
      /** A replica further behind than this is not read from (reads go to the primary until it catches up). */
      replicaMaxLagMs: z.coerce.number().int().min(0).default(10_000),
      /** How often the replica's replay position is compared with the primary's. */
      replicaProbeMs: z.coerce.number().int().min(100).default(1_000),
    })
    .prefault({}),
  /** The time-partitioned PostgreSQL layout (docs/scaling.md "Time-partitioned PostgreSQL"). */
  partitions: z
    .strictObject({
      /**
       * Partition audit_logs by occurred_at, one partition per day, week or month (UTC). Unset: one
       * table. A table already holding events is converted with `auditq migrate --partition`.
       */
      interval: z.enum(PARTITION_INTERVALS).optional(),
      /** Partitions kept created beyond the one the accepted clock skew (24 h) reaches into. */
      ahead: z.coerce.number().int().min(1).max(52).default(2),
      /** How often each process checks partitions exist ahead (days of margin make hourly ample) and analyzes stale ones. */
      maintainEveryMs: z.coerce.number().int().min(1_000).default(3_600_000),
    })
    .prefault({}),
  /** Producer sequences and the completeness check (src/completeness/, docs/integrity.md "Completeness"). */
  completeness: z
    .strictObject({
      /**
       * How long after its numbers were issued a gap counts as in flight (queued, spilled, pending
       * in a worker) rather than missing: longer than a normal queue backlog, shorter than an
       * outage someone should be told about.
       */
      inFlightBoundMs: z.coerce.number().int().min(1_000).default(15 * 60_000),
      /** How often an SDK producer writes its head record (and any pending rejection record). */
      headIntervalMs: z.coerce.number().int().min(100).default(60_000),
    })
    .prefault({}),
  /** The feed (GET /v1/feed, `auditq tail`) and its OCSF form; see docs/feed.md. */
  feed: z
    .strictObject({
      defaultLimit: z.coerce.number().int().min(1).default(100),
      maxLimit: z.coerce.number().int().min(1).max(10_000).default(1_000),
      /** Long-poll and SSE hold no database connection while they wait, only a timer. */
      maxWaitSeconds: z.coerce.number().int().min(0).max(300).default(30),
      /**
       * A waiting reader is woken at once by its own process's commits; events that another
       * process (a queue worker, another replica) commits are found by this poll. 250 ms keeps
       * idle delivery well under a second at one index probe per waiting reader per interval.
       */
      pollMs: z.coerce.number().int().min(10).max(10_000).default(250),
      /** `prefix=class,…`, replacing the built-in table (src/feed/ocsf/class-table.ts). */
      ocsfClassMap: z.string().optional(),
    })
    .prefault({}),
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

/** What fastify's trustProxy (proxy-addr) accepts, checked here so a typo fails at start naming the setting. */
function isProxyAddress(text: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(text)) return true
  const [address = '', prefix, ...rest] = text.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) ? Number(prefix) <= (family === 4 ? 32 : 128) : family === 4 && isIP(prefix) === 4
}

/** A JSON-valued variable; unparsable text is passed on, so the schema names the setting in its error. */
function parseJsonSetting(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
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
