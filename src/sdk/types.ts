import type { QueueRedis } from '../queue/redis-streams/connection.js'
import type { AuditEventInput } from '../event/types.js'
import type { BulkResult } from '../event/intake.js'
import type { RedactionOptions } from '../event/redact.js'
import type { OverflowPolicy, QueueDivert } from '../queue/overflow.js'
import type { ShreddingOptions } from '../shred/options.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import type { CommitReport } from './group-commit.js'
import type { LoggerStatsSnapshot } from './stats.js'
import type { EmbeddedDriverSetting } from '../store/embedded/sqlite-driver.js'
import type { ProducerOptions } from './producer.js'

export type { BulkResult, RejectedEvent } from '../event/intake.js'
export type { OverflowPolicy }

export interface AuditLoggerOptions {
  /** postgres://… for PostgreSQL; omit for the embedded file store under `dataDir`. */
  databaseUrl?: string
  /** PostgreSQL schema for auditq's tables (default public). */
  databaseSchema?: string
  /** Embedded store location (default `./.auditq`). */
  dataDir?: string
  /** The embedded store's SQLite driver (default AUDITQ_EMBEDDED_DRIVER, else `auto`: better-sqlite3, or `node:sqlite` when its binding is missing). */
  embeddedDriver?: EmbeddedDriverSetting
  /** redis://… enables queue mode: `log()` resolves once Redis holds the event; workers store it. */
  redisUrl?: string
  /** Queue-mode settings (cap, overflow policy, spill journal); setting this also enables queue mode. */
  queue?: QueueModeOptions
  /** Use an already-open store instead (the logger will not close it). */
  store?: Store
  defaultTenant?: string
  groupCommit?: { maxBatchEvents?: number; maxWaitMs?: number; maxInFlight?: number }
  /** pino logger for failures of `logDetached` and shutdown; defaults to JSON on stderr at warn. */
  logger?: Logger
  /**
   * Applied to every event before it is queued or stored: metadata keys naming secrets become
   * "[REDACTED]" (default list: password, passwd, secret, token, api_key, authorization, cookie,
   * credit_card, ssn), and IPs optionally keep only their network. `{ keys: [] }` turns redaction off.
   */
  redaction?: RedactionOptions
  /** Injected clock for tests; stamps `received_at`. */
  now?: () => Date
  /**
   * Called once per `log`/`logCritical` when it settles, with its duration; the service feeds a
   * Prometheus histogram with it. Plain callback: the SDK has no metrics dependency.
   */
  observeLogSeconds?: (seconds: number) => void
  /** Called after every group commit with its report (batch size, duration), for metrics. */
  observeCommit?: (report: CommitReport) => void
  /**
   * Queue mode: called with every batch of events that did not go into the stream (spilled or
   * refused), on the caller's turn; the service records it in the access trail. Must not wait.
   */
  observeQueueDivert?: (divert: QueueDivert) => void
  /**
   * Crypto-shredding (docs/erasure.md): personal fields are sealed under a per-subject key before
   * they are queued or stored, and `store` reveals them on read. Absent (the default): off.
   */
  shredding?: ShreddingOptions
  /**
   * Producer sequences (docs/integrity.md, "Completeness"): with `true` or options, every event
   * gets `producer_id` and the next `producer_seq`, refusals are recorded, and head records are
   * written periodically and on close(). `true` is a new id per logger, numbering from 1; pass
   * `{ id, nextSeq }` to continue a sequence you persisted. Default off: only refusals of events
   * that callers numbered themselves are recorded.
   */
  producer?: ProducerOptions | boolean
  /** How often the producer writes its head record (default `completeness.headIntervalMs`). */
  producerHeadIntervalMs?: number
}

export interface QueueModeOptions {
  /** Use this client instead of connecting to `redisUrl` (the logger will not close it). */
  redis?: QueueRedis
  prefix?: string
  name?: string
  /** Stream shards (default 1); the cap applies per shard. */
  shards?: number
  capEvents?: number
  overflowPolicy?: OverflowPolicy
  blockTimeoutMs?: number
  /** Spill journal directory (default `<dataDir>/spill`). */
  spillDir?: string
  spillMaxBytes?: number
  replayEveryMs?: number
  /** Commands that get no answer within this are treated as "Redis unavailable" (events spill). */
  redisCommandTimeoutMs?: number
  /** `redisUrl` names one node of a Redis Cluster. */
  cluster?: boolean
  /** More nodes (`host:port`) to discover the cluster from, should the URL's node be down. */
  clusterNodes?: readonly string[]
  /**
   * Replicas that must confirm each enqueue (Redis `WAIT`) before `log()` resolves; short of them
   * within `replicaAckTimeoutMs`, the events spill to the local journal instead. Default 0.
   */
  replicaAcks?: number
  replicaAckTimeoutMs?: number
}

export interface BulkOptions {
  /** Time the events were received; defaults to now. */
  receivedAt?: Date
  /**
   * The tenant an API key is bound to: events that name none get it, and an event naming another
   * tenant is refused (`tenant_id`/`tenant_mismatch`) — never silently moved.
   */
  boundTenant?: string
}

export interface AuditLogger {
  /** Resolves with the event id once the event is durably stored; throws AuditqError otherwise. */
  log(event: AuditEventInput): Promise<string>
  /** As `log`, with category `critical`, and never held back by the group-commit linger. */
  logCritical(event: AuditEventInput): Promise<string>
  /** Stores every valid event; invalid ones are reported by index. Throws only if the store is unavailable. */
  logBulk(events: readonly unknown[], options?: BulkOptions): Promise<BulkResult>
  /**
   * For request paths that must never wait or throw: returns at once. A failure is counted in
   * `stats().detachedFailures` and logged with the event's id and action — never silent.
   */
  logDetached(event: AuditEventInput): void
  stats(): LoggerStatsSnapshot
  readonly store: Store
  /** Stops accepting events, waits for everything accepted to be stored, closes an owned store. */
  close(): Promise<void>
}

/** What the factory tells a mode's logger about the resources it was handed. */
export interface Ownership {
  /** The logger opened the store itself and closes it on `close()`. */
  ownsStore: boolean
}
