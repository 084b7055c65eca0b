import type { Config } from '../config.js'
import type { RedisLoss } from '../queue/redis-streams/index.js'
import type { ReadReplicaStatus } from '../store/store.js'
import type { PipelineFigures } from './figures.js'
import type { SpillReading, StreamHealthReading } from './reading.js'

/**
 * Statuses from best to worst. `warning` (the status legacy dashboards show for dropped events) means "look at this";
 * `degraded` means events are not flowing to the store as they should; `critical` means events are
 * failing or cannot be stored at all. The reported status is the worst finding: a later, milder
 * rule never overwrites an earlier, graver one, so a flood of drops cannot hide failing inserts.
 */
export const STATUSES = ['healthy', 'warning', 'degraded', 'critical'] as const
export type HealthStatus = (typeof STATUSES)[number]

export type Thresholds = Config['monitoring']['thresholds']

export type RuleName =
  | 'store_unreachable'
  | 'redis_unreachable'
  | 'no_live_worker'
  | 'queue_backed_up'
  | 'oldest_event_too_old'
  | 'high_failure_rate'
  | 'events_dropped'
  | 'dead_letters'
  | 'events_spilled_waiting'
  | 'spill_refusing'
  | 'spill_replay_failing'
  | 'spill_checkpoint_failing'
  | 'redis_data_lost'
  | 'read_replica_unused'
  | 'default_partition_used'
  | 'producer_events_missing'
  | 'access_unrecorded'
  | 'stream_failing'
  | 'search_unindexed'

export interface Finding {
  rule: RuleName
  status: Exclude<HealthStatus, 'healthy'>
  issue: string
}

export interface Recommendation {
  severity: 'info' | 'warning' | 'critical'
  message: string
}

export interface HealthInput extends PipelineFigures {
  store: 'connected' | 'unreachable'
  redis: 'connected' | 'unreachable' | null
  /** The spill journal's faults (queue mode); absent or null when there is none to judge. */
  spill?: Pick<SpillReading, 'refusing' | 'replayFailing' | 'checkpointFailing'> | null
  /** Queue mode: losses Redis caused, held until an operator acknowledges them. */
  redis_losses?: readonly Pick<RedisLoss, 'eventsExposed' | 'cause' | 'detectedAt'>[] | null
  /** A configured read replica's state; absent or null without one. */
  read_replica?: Pick<ReadReplicaStatus, 'inUse' | 'reason' | 'lagSeconds' | 'maxLagSeconds' | 'lastError'> | null
  /** Partitioned PostgreSQL: rows in the default partition at the last maintenance round; null otherwise. */
  default_partition_rows?: number | null
  /** Producer sequence numbers missing for longer than the in-flight bound (the completeness check); null when not checked. */
  producer_missing_events?: number | null
  /** The access trail's recorder: failing while its writes fail, and aggregates still unwritten. */
  access_trail?: { failing: { since: string; message: string } | null; pending: number } | null
  /** Streams that are failing or parked (all processes see the same, from the store); absent = none to judge. */
  streams?: readonly StreamHealthReading[] | null
  /** The search backfill (`serve`): events without a search document, and whether a pass runs or fails. */
  search_index?: { unindexed: number | null; running: boolean; failing: { since: string; message: string } | null } | null
}


/**
 * Rules that describe what the service sends elsewhere, not whether it can take and store events:
 * they are findings and alerts, but never turn /health into 503 (a load balancer would drain every
 * instance because a SIEM is down, and ingest, which a dead sink must never slow, would stop).
 */
export const ADVISORY_RULES: ReadonlySet<RuleName> = new Set(['stream_failing', 'search_unindexed'])

export interface Evaluation {
  status: HealthStatus
  issues: string[]
  findings: Finding[]
  recommendations: Recommendation[]
}

export function worstStatus(statuses: readonly HealthStatus[]): HealthStatus {
  let worst = 0
  for (const status of statuses) worst = Math.max(worst, STATUSES.indexOf(status))
  return STATUSES[worst]!
}

export function atLeast(status: HealthStatus, floor: HealthStatus): boolean {
  return STATUSES.indexOf(status) >= STATUSES.indexOf(floor)
}

/** Every rule, in the order issues are listed. Pure: figures and thresholds in, findings out. */
export function evaluateHealth(input: HealthInput, thresholds: Thresholds): Evaluation {
  const findings: Finding[] = []
  const recommendations: Recommendation[] = []
  const add = (rule: RuleName, status: Finding['status'], issue: string, advice: string) => {
    findings.push({ rule, status, issue })
    recommendations.push({ severity: status === 'critical' ? 'critical' : 'warning', message: advice })
  }
  const n = (value: number) => Math.round(value).toLocaleString('en-US')

  if (input.store === 'unreachable') {
    add('store_unreachable', 'critical', 'store unreachable', input.mode === 'queue'
      ? 'The store does not answer: workers cannot write, so events wait in Redis. Check the database (connectivity, credentials, disk).'
      : 'The store does not answer: log() calls fail. Check the database (connectivity, credentials, disk).')
  }
  const refusing = input.spill?.refusing
  if (input.mode === 'queue' && input.redis === 'unreachable') {
    add('redis_unreachable', 'degraded', refusing
      ? `redis unreachable and the spill journal refusing (${refusing.errno}): events are being refused`
      : `redis unreachable: events are spilling to the local journal (${n(input.spill_waiting_events)} waiting)`,
      'Redis does not answer: events are kept in the local spill journal and replayed when it is back. Check Redis (process, memory, network).')
  }
  if (input.mode === 'queue' && input.redis === 'connected' && input.live_workers === 0) {
    add('no_live_worker', 'degraded', 'no live queue worker: queued events are not being stored',
      `No worker has sent a heartbeat: ${n(input.queue_length ?? 0)} queued events are not being stored. Start one with \`auditq worker\` (or \`auditq serve\` without --no-worker).`)
  }
  const queueLength = input.queue_length ?? 0
  if (queueLength > thresholds.queueLengthDegraded) {
    add('queue_backed_up', 'degraded', `queue backed up: ${n(queueLength)} events waiting (threshold ${n(thresholds.queueLengthDegraded)})`, backlogAdvice(input))
  }
  if (input.oldest_event_age_seconds !== null && input.oldest_event_age_seconds > thresholds.oldestEventAgeSecondsDegraded) {
    add('oldest_event_too_old', 'degraded', `oldest unstored event is ${n(input.oldest_event_age_seconds)} s old (threshold ${n(thresholds.oldestEventAgeSecondsDegraded)} s)`,
      input.live_workers === 0 && input.mode === 'queue'
        ? 'Events are waiting with nobody draining them: start a worker.'
        : `Events wait ${n(input.oldest_event_age_seconds)} s before they are stored. ${backlogAdvice(input)}`)
  }
  // Failing now, not only within the last minute: once the store is back and commits succeed, a
  // minute-old burst must not keep /health at 503 (and a load balancer draining the instance).
  if (input.failures_last_minute > thresholds.failuresPerMinuteCritical && (input.failures_recent === undefined || input.failures_recent > 0)) {
    add('high_failure_rate', 'critical', `high failure rate: ${n(input.failures_last_minute)} failed inserts in the last minute (threshold ${n(thresholds.failuresPerMinuteCritical)})`,
      `${n(input.failures_last_minute)} inserts failed in the last minute: check the store's logs and connectivity. Failed batches are retried; events that keep failing go to the dead-letter queue.`)
  }
  // Judged over the recent window: the lifetime total only grows, so one old burst would otherwise
  // answer 503 on every instance for ever and the alert would never resolve.
  if (input.recent_dropped_events > thresholds.droppedEventsWarning) {
    add('events_dropped', 'warning', `events being dropped: ${n(input.recent_dropped_events)} refused in the last ${n(input.recent_window_seconds)} s (threshold ${n(thresholds.droppedEventsWarning)}; ${n(input.total_dropped_events)} in total)`,
      `${n(input.recent_dropped_events)} events were refused over the queue cap recently (their callers were told). Add workers, raise queue.capEvents, or use overflowPolicy "spill".`)
  }
  if (input.dead_letters !== null && input.dead_letters > thresholds.deadLettersWarning) {
    add('dead_letters', 'warning', `${n(input.dead_letters)} events in the dead-letter queue`,
      `${n(input.dead_letters)} events failed on their own and wait in the dead-letter queue: inspect them with \`auditq dlq list\`, then \`auditq dlq replay\` or \`auditq dlq purge\`.`)
  }
  if (input.spill_waiting_events > thresholds.spilledWaitingWarning && input.redis !== 'unreachable') {
    add('events_spilled_waiting', 'warning', `${n(input.spill_waiting_events)} spilled events waiting for replay into the queue`,
      `${n(input.spill_waiting_events)} events sit in the local spill journal until the queue has room; they replay on their own. Add workers to make room sooner.`)
  }

  if (refusing) {
    // Critical while Redis is down: every event is refused right now, not only an overflow's.
    add('spill_refusing', input.redis === 'unreachable' ? 'critical' : 'degraded',
      `spill journal refusing events since ${refusing.since}: ${refusing.errno} (${refusing.message})`,
      `The spill journal cannot write (${refusing.errno}): events that need spilling get AUDITQ_SPILL_FAILED. Free space on the spill directory's disk (or fix the device); the journal retries on its own and replaying it frees space too.`)
  }
  const replayFailing = input.spill?.replayFailing
  if (replayFailing) {
    add('spill_replay_failing', 'degraded', `spill replay stopped since ${replayFailing.since}: ${replayFailing.errno} (${replayFailing.message})`,
      `Spilled events cannot be read back into the queue (${replayFailing.errno}): ${n(input.spill_waiting_events)} wait in the journal. Check the spill directory's disk; replay resumes on its own once it can.`)
  }
  const checkpointFailing = input.spill?.checkpointFailing
  if (checkpointFailing) {
    add('spill_checkpoint_failing', 'warning', `spill replay cannot record its position since ${checkpointFailing.since}: ${checkpointFailing.errno} (${checkpointFailing.message})`,
      `Replay goes on, but cannot record how far it got (${checkpointFailing.errno}): a restart now would put events already replayed into the queue again (the store ignores the duplicates). Free space on the spill directory's disk.`)
  }
  // Not judged over a window: a loss is a fact about the past that holds until someone has looked
  // at it, or the next sample after the restart would already look healthy again.
  const losses = input.redis_losses ?? []
  if (losses.length > 0) {
    const exposed = losses.reduce((sum, loss) => sum + loss.eventsExposed, 0)
    const latest = losses[losses.length - 1]!
    add('redis_data_lost', 'critical', `redis lost queued events: about ${n(exposed)} acknowledged events were in the queue and are gone (${losses.length === 1 ? 'detected' : `${losses.length} losses, latest`} ${latest.detectedAt})`,
      `Redis lost the queue (${latest.cause}): about ${n(exposed)} events that callers were told were accepted never reached the store. Turn on persistence (appendonly yes), find what was lost around ${latest.detectedAt} from the producers' logs, then acknowledge with \`auditq queue ack-loss\`.`)
  }
  // A warning, not worse: reads still work (from the primary). It pages because a replica that is
  // never used is capacity paid for and load the primary carries without anyone deciding so.
  const replica = input.read_replica
  if (replica && !replica.inUse) {
    const why = replica.reason === 'too_far_behind'
      ? `it is ${n((replica.lagSeconds ?? 0) * 1000)} ms behind (limit ${n(replica.maxLagSeconds * 1000)} ms)`
      : replica.reason === 'not_a_standby'
        ? 'the read URL names a server that is not a streaming standby'
        : replica.reason === 'not_probed'
          ? 'it has not been checked yet'
          : `it cannot be reached (${replica.lastError ?? 'no answer'})`
    add('read_replica_unused', 'warning', `read replica not used: ${why}; reads go to the primary`,
      'Reads (query, export, reports, verify) fall back to the primary while the replica is unusable. Check the replica (replication running, `pg_stat_replication` on the primary, its disk and network); it is used again as soon as it is within the lag limit.')
  }

  // A warning: the events are stored and read like any other, but retention can only delete them
  // row by row, and a range cannot be created over rows the default partition already holds.
  const defaultRows = input.default_partition_rows ?? 0
  if (defaultRows > 0) {
    add('default_partition_used', 'warning', `${n(defaultRows)} events are in the default partition: their occurred_at is older than every partition or beyond those created ahead`,
      'Check that partition maintenance runs (logs: "partition maintenance failed") and that no producer sends timestamps far in the past; events older than the first partition are expected after importing history. See docs/scaling.md.')
  }

  const missing = input.producer_missing_events ?? 0
  if (missing > 0) {
    add('producer_events_missing', 'critical', `producers are missing ${n(missing)} events: numbered, older than the in-flight bound, neither stored nor accounted for`,
      'Run `auditq completeness` to see which producers and which sequence ranges; look for a Redis restarted without persistence, hand-deleted queue entries, the `drop` overflow policy or a producer killed with events unacknowledged.')
  }

  const accessFailing = input.access_trail?.failing
  if (accessFailing) {
    add('access_unrecorded', 'degraded', `access to the trail cannot be recorded since ${accessFailing.since} (${accessFailing.message}); ${n(input.access_trail!.pending)} records waiting (aggregates of reads, pauses)`,
      'auditq cannot write its auditq.* access records: reads of the trail are refused (AUDITQ_ACCESS_UNRECORDED) and lifecycle records are missing until it can. Check that the store accepts writes (disk, permissions); waiting aggregates are retried on their own.')
  }

  const failing = (input.streams ?? []).filter((s) => s.state === 'parked' || (s.state === 'active' && s.failing_seconds > thresholds.streamFailingSeconds))
  if (failing.length > 0) {
    const names = failing.map((s) => `${s.name} (${s.state === 'parked' ? 'parked' : `failing ${n(s.failing_seconds)} s`}${s.last_error ? `: ${s.last_error.slice(0, 120)}` : ''})`)
    add('stream_failing', 'warning', `${failing.length === 1 ? 'stream' : `${failing.length} streams`} not delivering: ${names.join('; ')}`,
      failing.some((s) => s.state === 'parked')
        ? 'A receiver refused a batch for good (a 4xx other than 408/429): the stream is parked. See `auditq streams show NAME`, fix the receiver or the stream, then `auditq streams resume NAME`. Nothing is lost: the position waits.'
        : `A stream has been failing over ${n(thresholds.streamFailingSeconds)} s: its receiver is down or erroring and deliveries are retried with backoff. Events wait in the store; check the receiver (\`auditq streams show NAME\` has the last error).`)
  }

  // Events search cannot find are not lost (queries by field still return them), but a search that
  // silently misses them would be: the gap is shown until the backfill has closed it.
  const search = input.search_index
  if (search && (search.unindexed ?? 0) > 0) {
    const state = search.failing ? `; the backfill is failing since ${search.failing.since} (${search.failing.message.slice(0, 120)})` : search.running ? '; the backfill is filling them' : ''
    add('search_unindexed', 'warning', `${n(search.unindexed ?? 0)} events have no search document: word search does not find them${state}`,
      search.running
        ? 'Events stored before word search existed are being given their search document in the background; search finds them once it is done (progress: `auditq_search_unindexed_events`).'
        : 'Events stored before word search existed have no search document, so searches miss them. Run `auditq search backfill` (or let `serve` do it with AUDITQ_SEARCH_BACKFILL_AT_START=true); it is resumable and works in small transactions.')
  }

  const status = worstStatus(findings.map((f) => f.status))
  if (findings.length === 0) recommendations.push({ severity: 'info', message: 'All systems operating normally.' })
  // Gravest advice first: a reader stops after the first line.
  recommendations.sort((a, b) => severityRank(b.severity) - severityRank(a.severity))
  return { status, issues: findings.map((f) => f.issue), findings, recommendations }
}

/** Names the imbalance: who drains how fast against how fast events arrive. */
function backlogAdvice(input: HealthInput): string {
  const n = (value: number) => Math.round(value).toLocaleString('en-US')
  if (input.mode === 'direct') {
    return `The store commits ${n(input.store_rate_per_second)} events/s against ${n(input.arrival_rate_per_second)} arriving, ${n(input.avg_batch_time_ms)} ms per commit: check the store's latency, or raise groupCommit.maxBatchEvents.`
  }
  if (input.live_workers === 0) return `${n(input.arrival_rate_per_second)} events/s arrive and none is stored: the backlog grows until a worker runs (past the queue cap, events spill to local disk).`
  const workers = `${input.live_workers} worker${input.live_workers === 1 ? ' is' : 's are'}`
  if (input.queue_growth_per_second >= 0) {
    return `${workers} draining ${n(input.store_rate_per_second)} events/s against ${n(input.arrival_rate_per_second)} arriving; add workers or raise the batch size.`
  }
  return `${workers} draining ${n(input.store_rate_per_second)} events/s against ${n(input.arrival_rate_per_second)} arriving; the backlog shrinks by ${n(-input.queue_growth_per_second)} events/s. If it persists, add workers.`
}

function severityRank(severity: Recommendation['severity']): number {
  return severity === 'critical' ? 2 : severity === 'warning' ? 1 : 0
}
