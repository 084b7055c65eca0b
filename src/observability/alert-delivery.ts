import type { Logger } from '../util/logger.js'
import type { AlertNotice } from './alerts.js'
import type { PipelineFigures } from './figures.js'

export interface AlertDeliveryOptions {
  urls: readonly string[]
  timeoutMs: number
  retries: number
  logger: Logger
  /** Names the deployment in the message ("auditq queue auditq/default"). */
  source: string
  /** Counts each delivery's outcome (Prometheus). */
  onDelivery?: (state: AlertNotice['state'], outcome: 'delivered' | 'failed' | 'shed') => void
  /** First retry delay; doubles per attempt. */
  retryDelayMs?: number
}

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

  /** Waits for deliveries in flight (each bounded by its timeouts and retries). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight])
  }

  private async deliver(url: string, body: string, notice: AlertNotice): Promise<void> {
    const attempts = 1 + this.options.retries
    let lastError = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(this.options.timeoutMs) })
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
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, (this.options.retryDelayMs ?? 250) * 2 ** (attempt - 1)))
    }
    this.options.onDelivery?.(notice.state, 'failed')
    this.options.logger.error({ alert_rule: notice.rule, alert_state: notice.state, url: redactUrl(url), err_message: lastError }, 'alert webhook delivery failed')
  }
}

/** Webhook URLs carry their secret in the path (Slack): log the origin only. */
function redactUrl(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}
