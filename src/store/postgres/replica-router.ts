/**
 * Sends reads to a streaming replica while it is close enough behind the primary, and to the
 * primary's own read pool otherwise.
 *
 * How far behind is measured without trusting either server's clock: every probe records the
 * primary's WAL position (`pg_current_wal_lsn()`) with this process's time, and asks the replica
 * how far it has replayed (`pg_last_wal_replay_lsn()`). The replica then holds everything the
 * primary had at the latest recorded time whose position it has replayed, so its staleness is at
 * most "now minus that time". Between two probes it can only grow by the probe interval, which is
 * why the documented bound is `maxLagMs + probeEveryMs`.
 *
 * When the replica is not usable (unreachable, not in recovery, too far behind, or a read on it
 * just failed for a reason that is about the server, not the query), reads go to the primary's
 * read pool — a pool of its own, so falling back can never take a connection ingest needs. Reads
 * keep working through a replica outage; the fallback is counted, logged at warning and shown in
 * health, so a replica that is quietly never used does not go unnoticed.
 */
import type pg from 'pg'
import type { Logger } from '../../util/logger.js'
import type { ReadReplicaStatus } from '../store.js'
import { classifyPostgresError } from './classify-error.js'

export interface ReplicaRouterOptions {
  /** Replica further behind than this is not read from. */
  maxLagMs: number
  /** How often the replica's position is compared with the primary's. */
  probeEveryMs: number
  logger?: Logger | undefined
  /** For tests of the lag arithmetic; the process clock otherwise. */
  now?: () => number
}

interface Sample {
  at: number
  lsn: bigint
}

/** A WAL position as PostgreSQL prints it, `16/B374D848`, as one number. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (!match) throw new Error(`not a WAL position: ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/**
 * The replica's staleness bound from the primary's recorded positions: the time since the latest
 * sample it has fully replayed. None replayed: at least as old as the oldest sample kept.
 */
export function stalenessMs(samples: readonly Sample[], replayed: bigint, now: number): number {
  for (let i = samples.length - 1; i >= 0; i--) {
    const sample = samples[i]!
    if (sample.lsn <= replayed) return Math.max(0, now - sample.at)
  }
  const oldest = samples[0]
  return oldest ? Math.max(0, now - oldest.at) : Number.POSITIVE_INFINITY
}

/** A failure that says the replica cannot serve right now, so the primary should answer instead. */
function isReplicaFault(error: unknown): boolean {
  // A statement timeout is about the query: the primary would time out the same way.
  if ((error as { code?: unknown }).code === '57014') return false
  return classifyPostgresError(error) === 'transient'
}

export class ReplicaRouter {
  private readonly samples: Sample[] = []
  private readonly maxSamples: number
  private readonly now: () => number
  private usable = false
  private reason: ReadReplicaStatus['reason'] & string = 'not_probed'
  private lagMs: number | null = null
  private lagBytes: number | null = null
  private lastError: string | null = null
  private fallbackCount = 0
  private timer: NodeJS.Timeout | undefined
  private probing: Promise<void> | undefined
  private warnedReason: ReadReplicaStatus['reason'] = null

  constructor(
    /** The primary's read pool: where reads go when the replica cannot take them. */
    private readonly primary: pg.Pool,
    private readonly replica: pg.Pool,
    private readonly options: ReplicaRouterOptions,
  ) {
    this.now = options.now ?? Date.now
    // Enough history to tell "behind by more than maxLag" apart from "behind by exactly that".
    this.maxSamples = Math.max(4, Math.ceil((2 * options.maxLagMs) / options.probeEveryMs) + 2)
  }

  /** Probes now and then every `probeEveryMs`; the timer never keeps the process alive. */
  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.probe(), this.options.probeEveryMs)
    this.timer.unref()
    return this.probe()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One comparison of positions; concurrent callers share the one in progress. */
  probe(): Promise<void> {
    this.probing ??= this.compare().finally(() => (this.probing = undefined))
    return this.probing
  }

  private async compare(): Promise<void> {
    let primaryLsn: bigint
    try {
      const { rows } = await this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      primaryLsn = parseLsn(rows[0]!.lsn)
    } catch (error) {
      // The primary is the store's own problem (health reports it); keep the replica's last verdict.
      this.options.logger?.warn({ err_message: (error as Error).message }, 'read replica: could not read the primary position')
      return
    }
    this.samples.push({ at: this.now(), lsn: primaryLsn })
    if (this.samples.length > this.maxSamples) this.samples.shift()
    try {
      const { rows } = await this.replica.query<{ standby: boolean; replayed: string | null }>(
        'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed',
      )
      const row = rows[0]!
      if (!row.standby || row.replayed === null) {
        // Promoted, or pointed at a primary: its data may diverge from ours from now on.
        this.mark(false, 'not_a_standby', 'the read URL names a server that is not a streaming standby')
        this.lagMs = null
        this.lagBytes = null
        return
      }
      const replayed = parseLsn(row.replayed)
      this.lagMs = stalenessMs(this.samples, replayed, this.now())
      this.lagBytes = Number(primaryLsn > replayed ? primaryLsn - replayed : 0n)
      if (this.lagMs > this.options.maxLagMs) {
        this.mark(false, 'too_far_behind', `replica is up to ${Math.round(this.lagMs)} ms behind (limit ${this.options.maxLagMs} ms)`)
      } else {
        this.mark(true, null, null)
      }
    } catch (error) {
      this.mark(false, 'unreachable', (error as Error).message)
    }
  }

  private mark(usable: boolean, reason: ReadReplicaStatus['reason'], message: string | null): void {
    this.usable = usable
    if (reason) this.reason = reason
    this.lastError = message
    if (usable) {
      if (this.warnedReason) this.options.logger?.info({}, 'read replica: back in use')
      this.warnedReason = null
    } else if (reason && this.warnedReason !== reason) {
      this.warnedReason = reason
      this.options.logger?.warn({ reason, err_message: message }, 'read replica: not used, reads go to the primary')
    }
  }

  /** The pool a read should use now. */
  pool(): pg.Pool {
    if (this.usable) return this.replica
    this.fallbackCount++
    return this.primary
  }

  /**
   * Runs one read on the replica when it is usable, and again on the primary if the replica
   * fails it for a server-side reason. `fn` must be safe to run twice (a read).
   */
  async read<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = this.pool()
    if (pool === this.primary) return fn(pool)
    try {
      return await fn(pool)
    } catch (error) {
      if (!isReplicaFault(error)) throw error
      this.mark(false, 'read_failed', (error as Error).message)
      this.fallbackCount++
      return fn(this.primary)
    }
  }

  /** A client for a multi-statement read (export, report, verify): the replica's, or the primary's if it cannot give one. */
  async connect(): Promise<pg.PoolClient> {
    const pool = this.pool()
    if (pool === this.primary) return pool.connect()
    try {
      return await pool.connect()
    } catch (error) {
      this.mark(false, 'unreachable', (error as Error).message)
      this.fallbackCount++
      return this.primary.connect()
    }
  }

  status(): ReadReplicaStatus {
    return {
      inUse: this.usable,
      reason: this.usable ? null : this.reason,
      lagSeconds: this.lagMs === null || !Number.isFinite(this.lagMs) ? null : this.lagMs / 1000,
      lagBytes: this.lagBytes,
      fallbacks: this.fallbackCount,
      lastError: this.lastError,
      maxLagSeconds: this.options.maxLagMs / 1000,
    }
  }
}
