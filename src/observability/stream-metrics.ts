import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Commit → acknowledged: from a group commit's few milliseconds to a receiver back after an outage. */
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]

/**
 * Stream delivery metrics, labelled by stream name: streams are created by operators, so the set
 * is small and bounded (never a tenant or event id). Registered by every process that runs
 * deliverers; each reports the streams it holds the lease of.
 */
export class StreamMetrics {
  readonly deliveredEvents: Counter<'stream'>
  readonly deliveries: Counter<'stream'>
  readonly failures: Counter<'stream' | 'outcome'>
  readonly retries: Counter<'stream'>
  readonly lagEvents: Gauge<'stream'>
  readonly lagSeconds: Gauge<'stream'>
  readonly ackLatency: Histogram<'stream'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.deliveredEvents = new Counter({ name: 'auditq_stream_delivered_events_total', help: 'Events a sink acknowledged, by stream (a batch resent after a failure counts again).', labelNames: ['stream'], registers })
    this.deliveries = new Counter({ name: 'auditq_stream_deliveries_total', help: 'Batches a sink acknowledged, by stream.', labelNames: ['stream'], registers })
    this.failures = new Counter({ name: 'auditq_stream_delivery_failures_total', help: 'Failed delivery attempts, by stream and outcome (retry: retried with backoff; park: refused for good, stream parked).', labelNames: ['stream', 'outcome'], registers })
    this.retries = new Counter({ name: 'auditq_stream_retries_total', help: 'Delivery attempts that will be retried, by stream.', labelNames: ['stream'], registers })
    this.lagEvents = new Gauge({ name: 'auditq_stream_lag_events', help: 'Events stored but not yet delivered, by stream (read every few seconds by the holding process).', labelNames: ['stream'], registers })
    this.lagSeconds = new Gauge({ name: 'auditq_stream_lag_seconds', help: 'Age of the oldest event not yet delivered, by stream; 0 when caught up.', labelNames: ['stream'], registers })
    this.ackLatency = new Histogram({ name: 'auditq_stream_commit_to_ack_seconds', help: 'Per event: from commit (received_at) to the sink acknowledging it, by stream.', labelNames: ['stream'], buckets: LAG_BUCKETS, registers })
  }

  /** The runner's observer: what it reports becomes these metrics. */
  get observer() {
    return {
      delivered: (stream: string, events: number, commitToAckSeconds: readonly number[]) => {
        this.deliveredEvents.labels(stream).inc(events)
        this.deliveries.labels(stream).inc()
        for (const seconds of commitToAckSeconds) this.ackLatency.labels(stream).observe(seconds)
      },
      failed: (stream: string, outcome: 'retry' | 'park') => {
        this.failures.labels(stream, outcome).inc()
        if (outcome === 'retry') this.retries.labels(stream).inc()
      },
      lag: (stream: string, events: number | null, seconds: number) => {
        if (events !== null) this.lagEvents.labels(stream).set(events)
        this.lagSeconds.labels(stream).set(seconds)
      },
      // Another process holds the stream now and reports it; a stale gauge here would double it.
      stopped: (stream: string) => {
        this.lagEvents.remove(stream)
        this.lagSeconds.remove(stream)
      },
    }
  }
}
