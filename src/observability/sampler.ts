import type { Logger } from '../util/logger.js'
import { deriveFigures, type PipelineFigures } from './figures.js'
import { evaluateHealth, type Evaluation, type Thresholds } from './health-rules.js'
import type { PipelineReading } from './reading.js'

export interface PipelineView {
  reading: PipelineReading
  figures: PipelineFigures
  evaluation: Evaluation
}

/** One point of GET /api/v1/monitoring/history. */
export interface HistorySample {
  t: string
  status: Evaluation['status']
  queue_length: number | null
  oldest_event_age_seconds: number | null
  ingest_rate_per_second: number
  store_rate_per_second: number
  arrival_rate_per_second: number
  avg_batch_size: number
  total_dropped_events: number
  total_overflow_events: number
  total_spilled_events: number
  dead_letters: number | null
  live_workers: number
}

export interface SamplerOptions {
  read: () => Promise<PipelineReading>
  thresholds: Thresholds
  everyMs: number
  historyMs: number
  rateWindowMs: number
  logger: Logger
  /** The access trail's recorder state, judged by the `access_unrecorded` rule. */
  accessTrail?: () => { failing: { since: string; message: string } | null; pending: number }
  /** The search backfill's state, judged by the `search_unindexed` rule. */
  searchIndex?: () => { unindexed: number | null; running: boolean; failing: { since: string; message: string } | null }
  /** Called with every periodic sample (alerts evaluate here). */
  onSample?: (view: PipelineView) => void
}

const MINUTE_MS = 60_000

/**
 * Reads the pipeline every `everyMs` into a ring buffer covering `historyMs`. The ring is both the
 * history the dashboard draws and the memory rates are computed against, so a rate is a plain
 * difference of two counters and nothing resets on a timer.
 */
export class PipelineSampler {
  private readonly ring: PipelineView[] = []
  private readonly capacity: number
  private timer: NodeJS.Timeout | undefined
  private sampling: Promise<void> | undefined
  /** The one on-demand read in flight: concurrent callers share it (single flight). */
  private reading: Promise<PipelineView> | undefined

  constructor(private readonly options: SamplerOptions) {
    // Enough points for the history and for the one-minute window, whichever is longer.
    this.capacity = Math.ceil(Math.max(options.historyMs, MINUTE_MS + options.everyMs) / options.everyMs) + 1
  }

  /** Takes the first sample now (the baseline every rate is measured from), then one every `everyMs`. */
  async start(): Promise<void> {
    await this.sample()
    this.timer = setInterval(() => void this.sample(), this.options.everyMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.sampling
  }

  /**
   * A fresh reading, evaluated against the ring, not stored (an API call must not skew the sampling
   * interval). Concurrent callers share one read, so a flood of health checks has one store ping and
   * one round of Redis commands in flight at a time, never one per request (which would starve
   * ingest of pool connections and could time the ping out into a false `store_unreachable`).
   * Never answered from a finished reading: at worst a caller joins a read begun just before it asked.
   */
  current(): Promise<PipelineView> {
    if (this.reading) return this.reading
    const reading = (async () => {
      try {
        return this.view(await this.options.read())
      } finally {
        this.reading = undefined
      }
    })()
    this.reading = reading
    return reading
  }

  /** Periodic samples, oldest first, within `historyMs`. */
  history(): HistorySample[] {
    const cutoff = Date.now() - this.options.historyMs
    return this.ring.filter((view) => view.reading.at >= cutoff).map(toHistorySample)
  }

  /** The newest periodic sample (what /metrics reports, so a scrape does no I/O). */
  latest(): PipelineView | undefined {
    return this.ring.at(-1)
  }

  get intervalMs(): number {
    return this.options.everyMs
  }

  /** One periodic sample; skipped while the previous one is still reading (a slow Redis must not pile up reads). */
  sample(): Promise<void> {
    if (this.sampling) return this.sampling
    this.sampling = (async () => {
      try {
        const view = this.view(await this.options.read())
        this.ring.push(view)
        if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity)
        this.options.onSample?.(view)
      } catch (error) {
        this.options.logger.warn({ err_message: (error as Error).message }, 'monitoring sample failed')
      } finally {
        this.sampling = undefined
      }
    })()
    return this.sampling
  }

  private view(reading: PipelineReading): PipelineView {
    const rateBase = this.baseAtLeast(reading.at, this.options.rateWindowMs)
    const minuteBase = this.baseAtLeast(reading.at, MINUTE_MS)
    const figures = deriveFigures(reading, rateBase, minuteBase, this.recentBase(reading))
    const evaluation = evaluateHealth({ ...figures, store: reading.store, redis: reading.redis, spill: reading.spill, redis_losses: reading.redisLosses, read_replica: reading.readReplica ?? null, default_partition_rows: reading.defaultPartitionRows ?? null, producer_missing_events: reading.producerMissingEvents ?? null, access_trail: this.options.accessTrail?.() ?? null, streams: reading.streams ?? null, search_index: this.options.searchIndex?.() ?? null }, this.options.thresholds)
    return { reading, figures, evaluation }
  }

  /**
   * The oldest reading within `historyMs` whose drop counter is the same one `reading` has (shared
   * vs this process's own): counters that only grow are judged over this window, not for life.
   */
  private recentBase(reading: PipelineReading): PipelineReading | undefined {
    const cutoff = reading.at - this.options.historyMs
    const shared = reading.shared !== null
    return this.ring.find((view) => view.reading.at >= cutoff && view.reading.at <= reading.at && (view.reading.shared !== null) === shared)?.reading
  }

  /** The newest reading at least `ageMs` older than `at`, else the oldest one there is (a young service). */
  private baseAtLeast(at: number, ageMs: number): PipelineReading | undefined {
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const reading = this.ring[i]!.reading
      if (reading.at <= at - ageMs) return reading
    }
    return this.ring[0]?.reading
  }
}

function toHistorySample({ reading, figures, evaluation }: PipelineView): HistorySample {
  return {
    t: new Date(reading.at).toISOString(),
    status: evaluation.status,
    queue_length: figures.queue_length,
    oldest_event_age_seconds: figures.oldest_event_age_seconds,
    ingest_rate_per_second: figures.ingest_rate_per_second,
    store_rate_per_second: figures.store_rate_per_second,
    arrival_rate_per_second: figures.arrival_rate_per_second,
    avg_batch_size: figures.avg_batch_size,
    total_dropped_events: figures.total_dropped_events,
    total_overflow_events: figures.total_overflow_events,
    total_spilled_events: figures.total_spilled_events,
    dead_letters: figures.dead_letters,
    live_workers: figures.live_workers,
  }
}
