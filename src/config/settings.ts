/**
 * Every environment variable auditq reads, the config path it sets and what it means: one table
 * that drives `configFromEnv` and generates the reference table in docs/configuration.md. Defaults
 * are not here: they live once, in the schema (src/config.ts and its sections in src/config/),
 * and the docs read them from it.
 */
export interface Setting {
  env: `AUDITQ_${string}`
  /** Dotted path into the config (`queue.capEvents`). */
  path: string
  description: string
  /** The CLI flag that overrides it, if any. */
  flag?: `--${string}`
  /** Comma-separated in the variable; empty items are dropped. */
  list?: true
  /** What an unset optional setting means, where the schema has no default to show. */
  whenUnset?: string
}

export const SETTINGS: readonly Setting[] = [
  { env: 'AUDITQ_DATABASE_URL', path: 'databaseUrl', flag: '--database-url', description: 'PostgreSQL; absent = embedded store' },
  { env: 'AUDITQ_DATA_DIR', path: 'dataDir', flag: '--data-dir', description: 'embedded store directory' },
  { env: 'AUDITQ_EMBEDDED_DRIVER', path: 'embeddedDriver', description: "the embedded store's SQLite driver: `auto` (better-sqlite3 when its native binding loads, else Node's built-in `node:sqlite` on Node.js 22.13+), `better-sqlite3` or `node:sqlite`" },
  { env: 'AUDITQ_HOST', path: 'host', flag: '--host', description: 'address `serve` binds' },
  { env: 'AUDITQ_PORT', path: 'port', flag: '--port', description: 'port `serve` listens on' },
  { env: 'AUDITQ_LOG_LEVEL', path: 'logLevel', flag: '--log-level', description: 'JSON logs on stderr; commands other than `serve` use `warn` unless it is set' },
  { env: 'AUDITQ_LOG_FORMAT', path: 'logFormat', flag: '--log-format', description: '`auto` = pino-pretty on a terminal, JSON otherwise; `json`; `pretty`' },
  { env: 'AUDITQ_DATABASE_SCHEMA', path: 'databaseSchema', description: "PostgreSQL schema for auditq's tables" },
  { env: 'AUDITQ_REDIS_URL', path: 'redisUrl', flag: '--redis-url', description: 'queue mode; absent = direct mode' },
  { env: 'AUDITQ_QUEUE_CAP', path: 'queue.capEvents', description: 'un-acknowledged events before overflow' },
  { env: 'AUDITQ_OVERFLOW_POLICY', path: 'queue.overflowPolicy', description: '`spill`, `block` or `drop`' },
  { env: 'AUDITQ_SPILL_DIR', path: 'queue.spillDir', whenUnset: '`<data dir>/spill`', description: 'spill journal' },
  { env: 'AUDITQ_QUEUE_PREFIX', path: 'queue.prefix', description: 'Redis keys `<prefix>:{<name>}:…`' },
  { env: 'AUDITQ_QUEUE_SHARDS', path: 'queue.shards', description: 'stream shards the queue is split into, each under its own hash tag (on a Redis Cluster, spread over the masters); the cap applies per shard; see [queue-mode.md](queue-mode.md#redis-cluster)' },
  { env: 'AUDITQ_QUEUE_NAME', path: 'queue.name', description: 'Redis keys `<prefix>:{<name>}:…`' },
  { env: 'AUDITQ_REDIS_CLUSTER', path: 'queue.cluster', description: '`true`: `AUDITQ_REDIS_URL` names one node of a Redis Cluster; see [queue-mode.md](queue-mode.md#redis-cluster)' },
  { env: 'AUDITQ_REDIS_CLUSTER_NODES', path: 'queue.clusterNodes', description: 'with `AUDITQ_REDIS_CLUSTER`: more nodes (`host:port`, comma-separated) to discover the cluster from, so a client starts while the URL\'s node is down' },
  { env: 'AUDITQ_QUEUE_REPLICA_ACKS', path: 'queue.replicaAcks', description: 'replicas that must confirm an enqueue (`WAIT`) before `log()` resolves; `0` = the master alone' },
  { env: 'AUDITQ_QUEUE_REPLICA_ACK_TIMEOUT_MS', path: 'queue.replicaAckTimeoutMs', description: 'how long an enqueue waits for those replicas before its events count as not accepted (and spill)' },
  { env: 'AUDITQ_HEALTH_FAIL_FROM', path: 'monitoring.healthFailFrom', description: 'lowest status at which `/api/v1/monitoring/health` answers 503 (`warning`, `degraded`, `critical`)' },
  { env: 'AUDITQ_HEALTH_QUEUE_LENGTH', path: 'monitoring.thresholds.queueLengthDegraded', description: '`queue_backed_up` fires above this many waiting events' },
  { env: 'AUDITQ_HEALTH_OLDEST_EVENT_SECONDS', path: 'monitoring.thresholds.oldestEventAgeSecondsDegraded', description: '`oldest_event_too_old` fires above this age' },
  { env: 'AUDITQ_HEALTH_FAILURES_PER_MINUTE', path: 'monitoring.thresholds.failuresPerMinuteCritical', description: '`high_failure_rate` fires above this many failed inserts a minute' },
  { env: 'AUDITQ_HEALTH_DROPPED_EVENTS', path: 'monitoring.thresholds.droppedEventsWarning', description: '`events_dropped` fires above this many refusals within the history window' },
  { env: 'AUDITQ_HEALTH_DEAD_LETTERS', path: 'monitoring.thresholds.deadLettersWarning', description: '`dead_letters` fires above this DLQ size' },
  { env: 'AUDITQ_HEALTH_SPILLED_WAITING', path: 'monitoring.thresholds.spilledWaitingWarning', description: '`events_spilled_waiting` fires above this many spilled events waiting' },
  { env: 'AUDITQ_HEALTH_STREAM_FAILING_SECONDS', path: 'monitoring.thresholds.streamFailingSeconds', description: '`stream_failing` fires once a stream has failed this long without a success, or at once when it is parked' },
  { env: 'AUDITQ_MONITOR_SAMPLE_MS', path: 'monitoring.sampleEveryMs', description: 'how often the sampler reads the pipeline' },
  { env: 'AUDITQ_MONITOR_HISTORY_MS', path: 'monitoring.historyMs', description: 'how far back the sampler’s history reaches' },
  { env: 'AUDITQ_ALERT_WEBHOOKS', path: 'monitoring.alertWebhooks', list: true, description: 'comma-separated URLs each alert is POSTed to (Slack-compatible body)' },
  { env: 'AUDITQ_ALERT_COOLDOWN_MS', path: 'monitoring.alertCooldownMs', description: 'a rule that fires again within this of its last notice is held back until it ends' },
  { env: 'AUDITQ_SIGNING_KEY_FILE', path: 'integrity.signingKeyFile', description: 'PEM file of the Ed25519 private key that signs checkpoints; see [integrity.md](integrity.md)' },
  { env: 'AUDITQ_SIGNING_KEY', path: 'integrity.signingKey', description: 'the PEM itself, for platforms that inject secrets as variables' },
  { env: 'AUDITQ_CHECKPOINT_INTERVAL_MS', path: 'integrity.checkpointIntervalMs', description: 'how often `serve`/`worker` sign moved chain heads (with a key)' },
  { env: 'AUDITQ_MERKLE_TREE', path: 'integrity.merkleTree', description: '`true` or `false`: keep the Merkle tree over each chain and sign its root in checkpoints (proofs, verifiable exports); see [integrity.md](integrity.md)' },
  { env: 'AUDITQ_RETENTION_DAYS', path: 'retention.days', whenUnset: '— (off)', description: '`serve`/`worker` delete events older than this many days; see [retention.md](retention.md)' },
  // Split by the schema's own preprocess, so a flag or file can give the same comma-separated text.
  { env: 'AUDITQ_RETENTION_KEEP_ACTIONS', path: 'retention.keepActions', description: 'comma-separated actions never deleted' },
  { env: 'AUDITQ_RETENTION_INTERVAL_MS', path: 'retention.intervalMs', description: 'how often `serve`/`worker` try a retention run' },
  { env: 'AUDITQ_RETENTION_CHUNK_ROWS', path: 'retention.chunkRows', whenUnset: '`5000` PostgreSQL, `500` embedded', description: 'rows per delete transaction' },
  { env: 'AUDITQ_RETENTION_ARCHIVE_BEFORE_DELETE', path: 'retention.archiveBeforeDelete', description: '`true`/`false`: with an archive stream configured, retention deletes only events the archive has confirmed; see [retention.md](retention.md)' },
  { env: 'AUDITQ_ACCESS_AGGREGATE_WINDOW_MS', path: 'access.aggregateWindowMs', description: 'identical reads of the trail within this window are recorded as one `auditq.*` aggregate event (count, first and last time); `0` records every read; see [access-trail.md](access-trail.md)' },
  { env: 'AUDITQ_ACCESS_SYSTEM_TENANT', path: 'access.systemTenant', description: "tenant whose chain records every access to the trail (`auditq.*` events) and auditq's own start and stop" },
  { env: 'AUDITQ_SEARCH_BACKFILL_AT_START', path: 'search.backfillAtStart', description: '`true`/`false`: `serve` gives events stored before word search existed their search document in the background; see [viewer.md](viewer.md#events-stored-before-search)' },
  { env: 'AUDITQ_SEARCH_BACKFILL_BATCH_ROWS', path: 'search.backfillBatchRows', description: 'events per search backfill transaction' },
  { env: 'AUDITQ_SEARCH_BACKFILL_PAUSE_MS', path: 'search.backfillPauseMs', description: "pause between the background search backfill's transactions" },
  { env: 'AUDITQ_SEARCH_BACKFILL_RECHECK_MS', path: 'search.backfillRecheckMs', description: 'while events lack a search document and no backfill runs here, how often `serve` counts them again (or retries a failed pass)' },
  { env: 'AUDITQ_STREAMS_ENABLED', path: 'streams.enabled', description: 'run stream deliverers in this process (`serve`, `worker`); `false` on them with `auditq streams run` elsewhere keeps delivery off the ingest processes; see [streaming.md](streaming.md)' },
  { env: 'AUDITQ_STREAMS_LEASE_TTL_MS', path: 'streams.leaseTtlMs', description: "a crashed deliverer's streams are taken over by another process within this" },
  { env: 'AUDITQ_STREAMS_SCAN_MS', path: 'streams.scanEveryMs', description: 'how often each process looks for streams nobody delivers' },
  { env: 'AUDITQ_STREAMS_POLL_MS', path: 'streams.pollMs', description: 'longest wait for new events once a stream has caught up' },
  { env: 'AUDITQ_STREAMS_RETRY_INITIAL_MS', path: 'streams.retryInitialDelayMs', description: 'first retry delay of a failed delivery (exponential, full jitter)' },
  { env: 'AUDITQ_STREAMS_NICE', path: 'streams.processNice', description: '`auditq streams run` only: CPU niceness it gives itself (0–19), so ingest on the same host gets the cores first; see [streaming.md](streaming.md#deliverers-in-their-own-process)' },
  { env: 'AUDITQ_STREAMS_RETRY_MAX_MS', path: 'streams.retryMaxDelayMs', description: 'retry delay ceiling (a longer `Retry-After` is honoured)' },
  { env: 'AUDITQ_RATE_LIMIT_PER_SECOND', path: 'security.rateLimitPerSecond', description: 'requests per second per API key, per process; `0` = off' },
  { env: 'AUDITQ_RATE_LIMIT_BURST', path: 'security.rateLimitBurst', description: 'requests a quiet key may send at once before the per-second rate applies' },
  { env: 'AUDITQ_FAILED_AUTH_PER_SECOND', path: 'security.failedAuthPerSecond', description: 'failed keys a client address (and, separately, a key id) may present per second before its failures get 429 instead of 401; a valid key is always accepted; `0` = off' },
  { env: 'AUDITQ_FAILED_AUTH_BURST', path: 'security.failedAuthBurst', description: 'failed keys presented at once before the per-second rate applies' },
  { env: 'AUDITQ_REQUEST_TIMEOUT_MS', path: 'http.requestTimeoutMs', description: "a request's headers and body must arrive within this, however slowly they trickle; then 408 and the connection is closed" },
  { env: 'AUDITQ_MAX_BODY_BYTES_IN_FLIGHT', path: 'http.maxBodyBytesInFlight', description: 'request-body bytes one process holds at once (declared `Content-Length` reserved up front); a body that would pass it gets 503 `AUDITQ_OVERLOADED` with `Retry-After`; at least the 4 MiB body limit' },
  { env: 'AUDITQ_MAX_JSON_DEPTH', path: 'http.maxJsonDepth', description: 'arrays/objects nested deeper in a JSON body or NDJSON line are refused before parsing (400, `max_depth`); at least 16' },
  { env: 'AUDITQ_TRUSTED_PROXIES', path: 'security.trustedProxies', list: true, description: 'comma-separated addresses or CIDRs (`10.0.0.0/8`, `::1`, or `loopback`) of reverse proxies whose `X-Forwarded-For` names the client; from anyone else the header is ignored' },
  { env: 'AUDITQ_IP_TRUNCATION', path: 'security.ipTruncation', description: '`24/48`: store only the /24 or /48 network of `ip_address`' },
  { env: 'AUDITQ_KEY_CACHE_TTL_MS', path: 'security.keyCacheTtlMs', description: 'a revoked key stops working within this' },
  { env: 'AUDITQ_KEY_CACHE_MAX_STALE_MS', path: 'security.keyCacheMaxStaleMs', description: 'while the key store is unreachable, a key verified before keeps working this long past its TTL (see [Security](security.md)); `0` = off' },
  { env: 'AUDITQ_REPORTS_MAX_CONCURRENT', path: 'reports.maxConcurrent', description: 'reports running at once per process over HTTP, all tenants; one more gets 503 `AUDITQ_BUSY`' },
  { env: 'AUDITQ_REPORTS_MAX_PER_TENANT', path: 'reports.maxPerTenant', description: 'reports one tenant may run at once per process; one more gets 429' },
  { env: 'AUDITQ_DATABASE_READ_POOL_MAX', path: 'reads.poolMax', description: 'PostgreSQL connections for reads (query, export, reports, verify), apart from the 10 for writes, so reads never take a connection ingest waits for' },
  { env: 'AUDITQ_PG_PARTITION_INTERVAL', path: 'partitions.interval', whenUnset: '— (one unpartitioned table)', description: '`day`, `week` or `month`: partition `audit_logs` by `occurred_at` so retention drops whole partitions; see [scaling.md](scaling.md#time-partitioned-postgresql)' },
  { env: 'AUDITQ_PG_PARTITIONS_AHEAD', path: 'partitions.ahead', description: 'partitions kept created beyond the one that the accepted 24 h clock skew reaches into' },
  { env: 'AUDITQ_PG_PARTITION_MAINTAIN_MS', path: 'partitions.maintainEveryMs', description: 'how often each process makes sure partitions exist ahead and analyzes partitions whose statistics are stale (also at start)' },
  { env: 'AUDITQ_DATABASE_READ_URL', path: 'reads.replicaUrl', whenUnset: '— (reads use the primary)', description: 'a PostgreSQL streaming replica for query, export, reports, verify and the feed (streams included); see [scaling.md](scaling.md#read-replicas)' },
  { env: 'AUDITQ_READ_REPLICA_MAX_LAG_MS', path: 'reads.replicaMaxLagMs', description: 'a replica further behind than this is not read from; reads go to the primary until it catches up (staleness bound: this plus the probe interval)' },
  { env: 'AUDITQ_READ_REPLICA_PROBE_MS', path: 'reads.replicaProbeMs', description: "how often the replica's replay position is compared with the primary's" },
  { env: 'AUDITQ_READ_STATEMENT_TIMEOUT_MS', path: 'reads.statementTimeoutMs', description: '`statement_timeout` of every read connection (one page, one export fetch, one verify step)' },
  { env: 'AUDITQ_EXPORT_MAX_CONCURRENT', path: 'reads.exportMaxConcurrent', description: 'exports streaming at once per process, all tenants; beyond: 503 `AUDITQ_BUSY`' },
  { env: 'AUDITQ_EXPORT_MAX_PER_TENANT', path: 'reads.exportMaxPerTenant', description: 'exports one tenant may stream at once per process; beyond: 429' },
  { env: 'AUDITQ_EXPORT_IDLE_TIMEOUT_MS', path: 'reads.exportIdleTimeoutMs', description: 'an export whose client reads nothing this long is aborted and its cursor and connection released' },
  { env: 'AUDITQ_VERIFY_MAX_CONCURRENT', path: 'reads.verifyMaxConcurrent', description: 'chain verifications at once per process over HTTP, all tenants (one per tenant); beyond: 503 `AUDITQ_BUSY`' },
  { env: 'AUDITQ_SHRED_SUBJECT_FIELD', path: 'shredding.subjectField', whenUnset: 'shredding off', description: 'crypto-shredding: the field naming the person an event is about (`actor_id`, `resource_id`, `session_id`, `client_id`); it and `AUDITQ_SHRED_FIELDS` are stored encrypted under a per-subject key that `auditq erase` destroys (see [Erasure](erasure.md))' },
  { env: 'AUDITQ_SHRED_FIELDS', path: 'shredding.fields', list: true, description: 'comma-separated personal fields sealed besides the subject field: `ip_address`, `user_agent`, `session_id`, `request_id`, `client_id`, `resource_id`, `description`, `error_message`, or `metadata.<key>`' },
  { env: 'AUDITQ_SHRED_MASTER_KEY', path: 'shredding.masterKey', description: 'the master key wrapping the subject keys: 64 hex digits or base64 of 32 bytes (`openssl rand -hex 32`); required when shredding is on' },
  { env: 'AUDITQ_SHRED_MASTER_KEY_FILE', path: 'shredding.masterKeyFile', description: 'a file holding the master key instead' },
  { env: 'AUDITQ_SHRED_KEY_CACHE_TTL_MS', path: 'shredding.keyCacheTtlMs', description: 'how long a process trusts a subject key it looked up: an erasure by another process takes effect in this one within this' },
  { env: 'AUDITQ_COMPLETENESS_IN_FLIGHT_BOUND_MS', path: 'completeness.inFlightBoundMs', description: 'a gap in a producer\'s sequence younger than this is "in flight", older is "missing" (`auditq completeness`, the `auditq_producer_missing_events` gauge)' },
  { env: 'AUDITQ_PRODUCER_HEAD_INTERVAL_MS', path: 'completeness.headIntervalMs', description: 'how often an SDK producer records its head (last sequence number issued) and pending rejections' },
  { env: 'AUDITQ_FEED_MAX_LIMIT', path: 'feed.maxLimit', description: 'most events one feed page may ask for (`GET /v1/feed?limit=`, `auditq tail`)' },
  { env: 'AUDITQ_FEED_MAX_WAIT_SECONDS', path: 'feed.maxWaitSeconds', description: 'longest long-poll `GET /v1/feed?wait=` may ask for' },
  { env: 'AUDITQ_FEED_POLL_MS', path: 'feed.pollMs', description: 'how often a waiting feed reader (long-poll, SSE, `tail --follow`) reads again when no commit signal woke it: the delivery delay for events another process wrote; see [feed.md](feed.md)' },
  { env: 'AUDITQ_OCSF_CLASS_MAP', path: 'feed.ocsfClassMap', whenUnset: 'the built-in table in [feed.md](feed.md)', description: 'comma-separated `action-prefix=class` rules (`api_activity`, `authentication`, `account_change`) that replace the built-in OCSF class table; the longest matching prefix wins' },
  { env: 'AUDITQ_VIEWER_SECRET', path: 'viewer.signingSecret', whenUnset: '— (viewer off)', description: 'secret (32+ characters) that signs viewer tokens; rotating it invalidates every token; see [viewer.md](viewer.md)' },
  { env: 'AUDITQ_VIEWER_ORIGINS', path: 'viewer.allowedOrigins', list: true, description: 'comma-separated origins (`https://app.example.com`) whose pages may embed the viewer (CORS, `frame-ancestors`); empty = same origin only' },
  { env: 'AUDITQ_DISPLAY_TEMPLATES', path: 'viewer.templates', description: 'JSON object of display templates per action, e.g. `{"user.invited":"{actor_name} invited {targets.user.name}"}`' },
]

/**
 * The settings the environment gives, as a partial config input for `loadConfig`. Values stay
 * text (the schema coerces and validates them, naming the config path on error); unset and empty
 * variables are skipped so they fall back to the defaults.
 */
export function readSettingsFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const fromEnv: Record<string, unknown> = {}
  for (const setting of SETTINGS) {
    const text = env[setting.env]
    if (text === undefined || (setting.list ? text.trim() : text) === '') continue
    const value = setting.list ? text.split(',').map((item) => item.trim()).filter((item) => item !== '') : text
    setPath(fromEnv, setting.path, value)
  }
  return fromEnv
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  const last = keys.pop()!
  let node = target
  for (const key of keys) node = (node[key] ??= {}) as Record<string, unknown>
  node[last] = value
}
