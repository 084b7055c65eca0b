import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SecurityStats } from './security-stats.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import type { CommitReport } from '../sdk/group-commit.js'
import type { Store } from '../store/store.js'
import type { BatchReport } from '../worker/queue-worker.js'
import { STATUSES, type RuleName } from './health-rules.js'
import type { PipelineView } from './sampler.js'

/**
 * Prometheus metrics. Every instance gets its own Registry (never prom-client's global one), so
 * tests can build several servers and a process can hold a service and a worker side by side.
 * Labels are bounded sets (path, reason = validator rule, status class, rule): never an actor,
 * tenant or event id.
 */

/** Latency buckets from 0.5 ms (a queued log()) to 10 s (a store stuck behind a lock). */
const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

export type BatchPath = 'direct' | 'worker'

/** The batch metrics a worker process exposes (and a service with an in-process worker). */
export class BatchMetrics {
  readonly batchSize: Histogram<'path'>
  readonly batchDuration: Histogram<'path'>
  readonly workerStored: Counter
  readonly deadLettered: Counter
  readonly batchFailures: Counter<'path'>
  readonly redisResets: Counter<'outcome'>

  constructor(readonly registry: Registry) {
    this.batchSize = new Histogram({ name: 'auditq_batch_size_events', help: 'Events per store batch (worker batch or direct-mode group commit).', labelNames: ['path'], buckets: BATCH_SIZE_BUCKETS, registers: [registry] })
    this.batchDuration = new Histogram({ name: 'auditq_batch_insert_duration_seconds', help: 'Time to write one batch to the store, retries included.', labelNames: ['path'], buckets: SECONDS_BUCKETS, registers: [registry] })
    this.workerStored = new Counter({ name: 'auditq_worker_events_stored_total', help: 'Events queue workers in this process wrote to the store (duplicates excluded).', registers: [registry] })
    this.deadLettered = new Counter({ name: 'auditq_events_dead_lettered_total', help: 'Events queue workers in this process moved to the dead-letter queue.', registers: [registry] })
    this.batchFailures = new Counter({ name: 'auditq_batch_failures_total', help: 'Store batch attempts that failed (worker: attempts retried or dead-lettered; direct: commits with a failed event).', labelNames: ['path'], registers: [registry] })
    this.batchFailures.labels('worker').inc(0)
    this.batchFailures.labels('direct').inc(0)
    this.redisResets = new Counter({ name: 'auditq_queue_redis_resets_total', help: 'Queue mode: Redis resets this process noticed: data_lost (Redis came back without the queue, or its keys were deleted) or data_kept (restarted, queue intact).', labelNames: ['outcome'], registers: [registry] })
    this.redisResets.labels('data_lost').inc(0)
    this.redisResets.labels('data_kept').inc(0)
  }

  recordRedisReset(outcome: 'data_lost' | 'data_kept'): void {
    this.redisResets.labels(outcome).inc()
  }

  /**
   * PostgreSQL's chain-link offers from this process's store, read at scrape time. `refused`
   * climbing means several processes write the same tenants, and their links are computed in the
   * server under the tenant's head lock (docs/integrity.md, "How a chained insert works").
   */
  observeChainWrites(store: Pick<Store, 'chainWriteStats'>): void {
    if (!store.chainWriteStats) return
    const stats = store.chainWriteStats.bind(store)
    new Counter({
      name: 'auditq_chain_link_offers_total',
      help: 'PostgreSQL: chained batches this process sent with links computed here, by outcome (taken by the server, or refused because another writer moved a head).',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        this.reset()
        const { linkOffers, linkOffersTaken } = stats()
        this.labels('taken').inc(linkOffersTaken)
        this.labels('refused').inc(linkOffers - linkOffersTaken)
      },
    })
  }

  /** A read replica's state, read at scrape time; nothing is registered without one. */
  observeReadReplica(store: Pick<Store, 'readReplicaStatus'>): void {
    const status = store.readReplicaStatus?.bind(store)
    if (!status?.()) return
    const registers = [this.registry]
    new Gauge({
      name: 'auditq_read_replica_lag_seconds',
      help: 'PostgreSQL read replica: upper bound on how far behind the primary it was at the last probe (-1 when it could not be measured).',
      registers,
      collect() {
        this.set(status()?.lagSeconds ?? -1)
      },
    })
    new Gauge({
      name: 'auditq_read_replica_lag_bytes',
      help: 'PostgreSQL read replica: WAL bytes it had still to replay at the last probe (-1 when unknown).',
      registers,
      collect() {
        this.set(status()?.lagBytes ?? -1)
      },
    })
    new Gauge({
      name: 'auditq_read_replica_in_use',
      help: 'PostgreSQL read replica: 1 while reads go to it, 0 while they fall back to the primary.',
      registers,
      collect() {
        this.set(status()?.inUse ? 1 : 0)
      },
    })
    new Counter({
      name: 'auditq_read_replica_fallbacks_total',
      help: 'PostgreSQL read replica: reads the primary answered because the replica was unusable or failed them.',
      registers,
      collect() {
        this.reset()
        this.inc(status()?.fallbacks ?? 0)
      },
    })
  }

  recordWorkerBatch(report: BatchReport): void {
    this.batchSize.labels('worker').observe(report.size)
    this.batchDuration.labels('worker').observe(report.durationMs / 1000)
    this.workerStored.inc(report.stored)
    if (report.deadLettered > 0) this.deadLettered.inc(report.deadLettered)
    // report.failedAttempts were counted one by one by recordWorkerFailedAttempt() as they happened.
  }

  /** One failed worker insert attempt, counted when it happens (not when its batch finally lands). */
  recordWorkerFailedAttempt(): void {
    this.batchFailures.labels('worker').inc()
  }

  recordCommit(report: CommitReport): void {
    this.batchSize.labels('direct').observe(report.events)
    this.batchDuration.labels('direct').observe(report.durationMs / 1000)
    if (report.failed > 0) this.batchFailures.labels('direct').inc()
  }
}

/** A fresh registry with Node's default process metrics (standard names, so stock dashboards work). */
export function newRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry()
  registry.setDefaultLabels(labels)
  collectDefaultMetrics({ register: registry })
  return registry
}

export interface ServiceMetricsSources {
  audit: AuditLogger
  /** The sampler's latest periodic view: gauges are read from it, so a scrape does no I/O. */
  latest: () => PipelineView | undefined
  /** The HTTP layer's access refusals (401/403/429), when a server is attached. */
  security?: () => SecurityStats
}

/** The service's metrics: SDK counters mirrored at scrape time, latency histograms, pipeline gauges. */
export class ServiceMetrics extends BatchMetrics {
  readonly logDuration: Histogram
  readonly ingestDuration: Histogram<'status_class'>
  readonly alertNotifications: Counter<'state' | 'outcome'>
  private sources: ServiceMetricsSources | undefined

  /**
   * Built before the SDK logger (whose hooks feed the histograms); `attach` names the logger and
   * the sampler once they exist. Until then the mirrored figures are absent, not zero.
   */
  constructor(registry: Registry) {
    super(registry)
    const self = this
    const stats = () => self.sources?.audit.stats()
    // Counters the SDK keeps as plain numbers (it has no metrics dependency): copied in on scrape.
    const mirror = (name: string, help: string, pick: (s: NonNullable<ReturnType<typeof stats>>) => number) =>
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset()
          const snapshot = stats()
          if (snapshot) this.inc(pick(snapshot))
        },
      })
    mirror('auditq_events_received_total', 'Events this process received through log()/logBulk()/HTTP, valid or not.', (s) => s.accepted + s.invalid)
    mirror('auditq_events_accepted_total', 'Events that passed validation.', (s) => s.accepted)
    mirror('auditq_events_enqueued_total', 'Queue mode: events Redis accepted into the stream.', (s) => s.enqueued)
    mirror('auditq_events_stored_total', 'Events this process wrote to the store itself (direct mode, critical events in queue mode); queue workers count in auditq_worker_events_stored_total.', (s) => s.stored)
    mirror('auditq_events_store_failed_total', 'Events the store refused or could not take in this process (their callers were told).', (s) => s.failed)
    mirror('auditq_events_dropped_total', 'Queue mode: events refused over the cap (policy drop, or the spill journal full); their callers were told.', (s) => s.refused)
    mirror('auditq_events_overflowed_total', 'Queue mode: events that found the queue over its cap.', (s) => s.overflowed)
    mirror('auditq_events_spilled_total', 'Queue mode: events written to the local spill journal.', (s) => s.spilled)
    mirror('auditq_events_replayed_total', 'Queue mode: spilled events moved back into the queue.', (s) => s.replayed)
    mirror('auditq_metadata_values_redacted_total', 'Metadata values replaced by "[REDACTED]" before storage (keys on the redaction list).', (s) => s.redacted)
    mirror('auditq_ip_addresses_truncated_total', 'ip_address values cut to their /24 or /48 network before storage.', (s) => s.ipTruncated)
    new Counter({
      name: 'auditq_http_access_refusals_total',
      help: 'Requests refused for access or resource reasons: unauthorized (401), forbidden (403), rate_limited (429), request_timeout (408), overloaded (503, in-flight body budget spent).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        const refusals = self.sources?.security?.()
        if (!refusals) return
        this.labels('unauthorized').inc(refusals.unauthorized)
        this.labels('forbidden').inc(refusals.forbidden)
        this.labels('rate_limited').inc(refusals.rateLimited)
        this.labels('request_timeout').inc(refusals.requestTimeouts)
        this.labels('overloaded').inc(refusals.overloaded)
      },
    })
    new Counter({
      name: 'auditq_events_rejected_total',
      help: 'Events the validator refused, by the rule of their first error.',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        for (const [reason, count] of Object.entries(stats()?.invalidByRule ?? {})) this.labels(reason).inc(count)
      },
    })

    this.logDuration = new Histogram({ name: 'auditq_log_duration_seconds', help: 'Time from log()/logCritical() to its promise settling (stored, queued or spilled).', buckets: SECONDS_BUCKETS, registers: [registry] })
    this.ingestDuration = new Histogram({ name: 'auditq_ingest_request_duration_seconds', help: 'POST /v1/events request duration, by HTTP status class.', labelNames: ['status_class'], buckets: SECONDS_BUCKETS, registers: [registry] })

    this.alertNotifications = new Counter({ name: 'auditq_alert_notifications_total', help: 'Alert webhook deliveries, by alert state and outcome (delivered, failed after retries, shed, aborted by shutdown).', labelNames: ['state', 'outcome'], registers: [registry] })

    const gauge = (name: string, help: string, pick: (view: PipelineView) => number | null) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const view = self.sources?.latest()
          const value = view ? pick(view) : null
          // Unknown (Redis unreachable) is NaN, not a made-up 0: a query sees the gap.
          this.set(value === null ? Number.NaN : value)
        },
      })
    gauge('auditq_queue_depth_events', 'Events waiting to be stored: queue mode, entries in the Redis stream; direct mode, events awaiting the group commit.', (v) => v.figures.queue_length)
    gauge('auditq_oldest_unstored_event_age_seconds', 'Age of the oldest event accepted but not yet stored (0 when none waits).', (v) => v.figures.oldest_event_age_seconds ?? 0)
    gauge('auditq_dead_letters_events', 'Events in the dead-letter queue.', (v) => v.figures.dead_letters)
    gauge('auditq_spill_journal_events', "Events in this process's spill journal waiting for replay.", (v) => v.reading.spill?.events ?? 0)
    gauge('auditq_spill_journal_bytes', "Bytes of this process's spill journal waiting for replay.", (v) => v.reading.spill?.bytes ?? 0)
    gauge('auditq_live_workers', 'Queue workers with a live heartbeat.', (v) => v.figures.live_workers)
    gauge('auditq_store_up', '1 when the store answered the last ping.', (v) => (v.reading.store === 'connected' ? 1 : 0))
    gauge('auditq_redis_up', 'Queue mode: 1 when Redis answered the last read.', (v) => (v.reading.redis === null ? null : v.reading.redis === 'connected' ? 1 : 0))
    gauge('auditq_queue_redis_loss_exposed_events', 'Queue mode: estimated acknowledged events lost with Redis (unacknowledged losses; see `auditq queue ack-loss`).', (v) => (v.reading.redisLosses === null ? null : v.reading.redisLosses.reduce((sum, loss) => sum + loss.eventsExposed, 0)))
    gauge('auditq_producer_missing_events', 'Producer sequence numbers missing for longer than the in-flight bound (`auditq completeness`); absent when not checked.', (v) => v.reading.producerMissingEvents ?? null)
    gauge('auditq_health_status', `Overall status: ${STATUSES.map((s, i) => `${i}=${s}`).join(', ')}.`, (v) => STATUSES.indexOf(v.evaluation.status))
    new Gauge({
      name: 'auditq_health_rule_firing',
      help: 'Health rules that hold right now (1) or not (0).',
      labelNames: ['rule'],
      registers: [registry],
      collect() {
        const view = self.sources?.latest()
        this.reset()
        if (!view) return
        const firing = new Set(view.evaluation.findings.map((f) => f.rule))
        for (const rule of ALL_RULES) this.labels(rule).set(firing.has(rule) ? 1 : 0)
      },
    })
  }

  attach(sources: ServiceMetricsSources): void {
    this.sources = { ...this.sources, ...sources }
  }

  /** The HTTP server attaches its refusal counts once it exists (after the sampler). */
  attachSecurity(security: () => SecurityStats): void {
    if (this.sources) this.sources = { ...this.sources, security }
  }

  /** Hooks for `createAuditLogger` (log() latency, group-commit batches). */
  get sdkHooks() {
    return {
      observeLogSeconds: (seconds: number) => this.logDuration.observe(seconds),
      observeCommit: (report: CommitReport) => this.recordCommit(report),
    }
  }
}

export const ALL_RULES: RuleName[] = ['store_unreachable', 'redis_unreachable', 'no_live_worker', 'queue_backed_up', 'oldest_event_too_old', 'high_failure_rate', 'events_dropped', 'dead_letters', 'events_spilled_waiting', 'spill_refusing', 'spill_replay_failing', 'spill_checkpoint_failing', 'redis_data_lost', 'read_replica_unused', 'default_partition_used', 'producer_events_missing', 'access_unrecorded', 'stream_failing', 'search_unindexed']
