import type { OverflowTally } from '../queue/overflow.js'
import type { SpillStats } from '../queue/spill/index.js'
import type { CommitReport } from './group-commit.js'

/** The queue-mode figures (`enqueued` … `refused`) are those of `OverflowTally`; 0 in direct mode. */
export interface LoggerStatsSnapshot extends OverflowTally {
  /** Events that passed validation and were handed to the store. */
  accepted: number
  /** Events refused by the validator. */
  invalid: number
  /** Rows written. */
  stored: number
  /** Events whose id was already stored (idempotent retries). */
  duplicates: number
  /** Events the store failed to take (refused or unreachable). */
  failed: number
  /** Failures of `logDetached` calls (a subset of invalid + failed, seen by no caller). */
  detachedFailures: number
  commits: number
  /** Metadata values replaced by "[REDACTED]" before storage (security.redactKeys). */
  redacted: number
  /** IP addresses cut to their /24 or /48 network before storage (security.ipTruncation). */
  ipTruncated: number
  /** Events refused because they named a tenant other than their API key's. */
  tenantMismatches: number
  /** Events waiting for the next commit right now. */
  pending: number
  lastCommitMs: number
  /** Sum of every commit's duration, for an average over any window. */
  commitMsTotal: number
  /** Invalid events by the validator rule of their first error (a bounded set of rule names). */
  invalidByRule: Readonly<Record<string, number>>
  /** Events in the commit running now (with `pending`: everything accepted and not yet stored). */
  inFlight: number
  /** Age of the oldest event accepted but not yet committed by this process's group commit; null when none waits. */
  oldestPendingAgeMs: number | null
  /** This process's spill journal (queue mode); null in direct mode, which has none. */
  spill: SpillStats | null
}

/** Plain counters: the SDK has no metrics dependency; the service exports these to Prometheus. */
export class LoggerStats {
  accepted = 0
  invalid = 0
  stored = 0
  duplicates = 0
  failed = 0
  detachedFailures = 0
  commits = 0
  lastCommitMs = 0
  commitMsTotal = 0
  readonly invalidByRule: Record<string, number> = {}
  enqueued = 0
  overflowed = 0
  queueUnavailable = 0
  spilled = 0
  replayed = 0
  refused = 0
  redacted = 0
  ipTruncated = 0

  recordCommit(report: CommitReport): void {
    this.commits += 1
    this.stored += report.inserted
    this.duplicates += report.duplicates
    this.failed += report.failed
    this.lastCommitMs = report.durationMs
    this.commitMsTotal += report.durationMs
  }

  recordInvalid(rule: string): void {
    this.invalid += 1
    // Rule names come from the validator (a fixed set); anything else is folded so labels stay bounded.
    const label = /^[a-z_]{1,40}$/.test(rule) ? rule : 'other'
    this.invalidByRule[label] = (this.invalidByRule[label] ?? 0) + 1
  }

  snapshot(pending: number, oldestPendingAgeMs: number | null = null, inFlight = 0): LoggerStatsSnapshot {
    return {
      accepted: this.accepted,
      invalid: this.invalid,
      stored: this.stored,
      duplicates: this.duplicates,
      failed: this.failed,
      detachedFailures: this.detachedFailures,
      commits: this.commits,
      enqueued: this.enqueued,
      overflowed: this.overflowed,
      queueUnavailable: this.queueUnavailable,
      spilled: this.spilled,
      replayed: this.replayed,
      refused: this.refused,
      redacted: this.redacted,
      ipTruncated: this.ipTruncated,
      tenantMismatches: this.invalidByRule.tenant_mismatch ?? 0,
      pending,
      lastCommitMs: this.lastCommitMs,
      commitMsTotal: this.commitMsTotal,
      invalidByRule: { ...this.invalidByRule },
      oldestPendingAgeMs,
      inFlight,
      spill: null,
    }
  }
}
