import type { Logger } from '../util/logger.js'
import type { AlertNotice } from './alerts.js'
import type { PipelineFigures } from './figures.js'
import { withDeadline } from '../util/deadline.js'

export interface AlertDeliveryOptions {
  urls: readonly string[]
  timeoutMs: number
  retries: number
  logger: Logger
  /** Names the deployment in the message ("auditq queue auditq/default"). */
  source: string
  /** Counts each delivery's outcome (Prometheus). */
  onDelivery?: (state: AlertNotice['state'], outcome: DeliveryOutcome) => void
  /** First retry delay; doubles per attempt. */
  retryDelayMs?: number
  /** How long close() lets deliveries in flight finish before aborting them. */
  closeGraceMs?: number
}

/** `aborted`: cut short by close() (shutdown), so the service stops within its deadline. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'shed' | 'aborted'

/**
 * Shutdown has 15 s in all (`auditq serve`), and a receiver that never answers would hold each
 * delivery for (1 + retries) × timeout plus the retry sleeps: close() waits this long, then aborts.
 */
const CLOSE_GRACE_MS = 1_500

/** Deliveries in flight beyond this are shed (counted and logged): a dead receiver must not grow memory. */
const MAX_IN_FLIGHT = 100

/**
 * One JSON body for both kinds of receiver: Slack's incoming webhooks read `text` (and ignore the
 * other fields); anything else reads the structured `alert`. One URL list, one body, no sink types.
 */
export function alertBody(notice: AlertNotice, figures: PipelineFigures | undefined, source: string) {
  const icon = notice.state === 'resolved' ? ':white_check_mark:' : notice.status === 'critical' ? ':rotating_light:' : ':warning:'
  const headline = notice.state === 'resolved' ? `RESOLVED ${notice.rule}` : `${notice.status.toUpperCase()} ${notice.rule}`
  const text = `${icon} auditq ${source}: ${headline}: ${notice.issue}`
  return {
    text,
    alert: {
      ...notice,
      source,
      figures: figures
        ? {
            queue_length: figures.queue_length,
            oldest_event_age_seconds: figures.oldest_event_age_seconds,
            live_workers: figures.live_workers,
            failures_last_minute: figures.failures_last_minute,
            dead_letters: figures.dead_letters,
            total_dropped_events: figures.total_dropped_events,
            recent_dropped_events: figures.recent_dropped_events,
            arrival_rate_per_second: figures.arrival_rate_per_second,
            store_rate_per_second: figures.store_rate_per_second,
          }
        : null,
    },
  }
}

/**
 * Logs every notice and posts it to every webhook in the background, with a timeout and retries.
 * Never blocks the sampler (and so never the pipeline); every failure is counted and logged.
 */
export class AlertDelivery {
  private readonly inFlight = new Set<Promise<void>>()
  /** Aborts every delivery in flight (their requests and retry sleeps) when close() runs out of grace. */
  private readonly closing = new AbortController()

  constructor(private readonly options: AlertDeliveryOptions) {}

  send(notices: readonly AlertNotice[], figures: PipelineFigures | undefined): void {
    for (const notice of notices) {
      const fields = { alert_rule: notice.rule, alert_state: notice.state, alert_status: notice.status, dedup_key: notice.dedupKey, issue: notice.issue }
      if (notice.state === 'resolved') this.options.logger.info(fields, `alert resolved: ${notice.rule}`)
      else if (notice.status === 'critical') this.options.logger.error(fields, `alert firing: ${notice.issue}`)
      else this.options.logger.warn(fields, `alert firing: ${notice.issue}`)
      const body = JSON.stringify(alertBody(notice, figures, this.options.source))
      for (const url of this.options.urls) {
        if (this.inFlight.size >= MAX_IN_FLIGHT) {
          this.options.onDelivery?.(notice.state, 'shed')
          this.options.logger.error({ ...fields, url: redactUrl(url) }, 'alert not delivered: too many deliveries in flight')
          continue
        }
        const delivery = this.deliver(url, body, notice).finally(() => this.inFlight.delete(delivery))
        this.inFlight.add(delivery)
      }
    }
  }

  /**
   * Lets deliveries in flight finish for a short grace, then aborts the rest (request and retry
   * sleep alike; each is counted and logged as aborted) so shutdown keeps its deadline.
   */
  async close(): Promise<void> {
    const settled = Promise.allSettled([...this.inFlight]).then(() => 'settled' as const)
    const outcome = await withDeadline(settled, this.options.closeGraceMs ?? CLOSE_GRACE_MS)
    if (outcome === undefined) {
      this.options.logger.warn({ in_flight: this.inFlight.size }, 'shutting down: aborting alert deliveries still in flight')
      this.closing.abort()
      await settled
    }
  }

  private async deliver(url: string, body: string, notice: AlertNotice): Promise<void> {
    const attempts = 1 + this.options.retries
    const closing = this.closing.signal
    let lastError = ''
    for (let attempt = 1; attempt <= attempts && !closing.aborted; attempt++) {
      try {
        const signal = AbortSignal.any([closing, AbortSignal.timeout(this.options.timeoutMs)])
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal })
        await response.body?.cancel().catch(() => undefined)
        if (response.ok) {
          this.options.onDelivery?.(notice.state, 'delivered')
          return
        }
        lastError = `HTTP ${response.status}`
        // A 4xx other than 408/429 will not get better by asking again.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break
      } catch (error) {
        lastError = (error as Error).message
      }
      if (attempt < attempts) await abortableSleep((this.options.retryDelayMs ?? 250) * 2 ** (attempt - 1), closing)
    }
    if (closing.aborted) {
      this.options.onDelivery?.(notice.state, 'aborted')
      this.options.logger.error({ alert_rule: notice.rule, alert_state: notice.state, url: redactUrl(url), err_message: lastError }, 'alert webhook delivery aborted by shutdown')
      return
    }
    this.options.onDelivery?.(notice.state, 'failed')
    this.options.logger.error({ alert_rule: notice.rule, alert_state: notice.state, url: redactUrl(url), err_message: lastError }, 'alert webhook delivery failed')
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (shutdown must not sit out a retry delay). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Webhook URLs carry their secret in the path (Slack): log the origin only. */
function redactUrl(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}
