import { z } from 'zod'

/** Config sections for what leaves the pipeline: health and alerts, streams to SIEMs, reports and the feed. */

export const monitoringSchema = z
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
  .prefault({})

export const streamsSchema = z
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
  .prefault({})

export const reportsSchema = z
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
  .prefault({})

export const feedSchema = z
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
  .prefault({})
