import { z } from 'zod'
import { commaList, textBoolean } from './fields.js'

/** Config sections on the way in: the group commit, the Redis queue and the workers that drain it into the store. */

export const groupCommitSchema = z
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
  .prefault({})

export const queueSchema = z
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
    cluster: textBoolean().default(false),
    /** More cluster nodes (`host:port`) to start from, so a client can start while the URL's node is down. */
    clusterNodes: commaList(z.string().regex(/^[^\s:/]+:\d+$/, 'must be host:port')).default([]),
    /**
     * Replicas that must confirm a write (Redis `WAIT`) before it counts as accepted: with 1, a
     * failover to that replica loses nothing acknowledged. 0 = acknowledge once the master holds it.
     */
    replicaAcks: z.coerce.number().int().min(0).max(10).default(0),
    /** How long an enqueue waits for those replicas; short of them, the events spill (policy permitting) instead. */
    replicaAckTimeoutMs: z.coerce.number().int().min(1).max(60_000).default(500),
  })
  .prefault({})

export const workerSchema = z
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
  .prefault({})
