/** What the runner reports as it goes; the service turns it into Prometheus metrics. */
export interface StreamObserver {
  /** A batch acknowledged: its size and, per event, seconds from commit (received_at) to acknowledgement. */
  delivered(stream: string, events: number, commitToAckSeconds: readonly number[]): void
  /** A failed delivery attempt: retried later, or the stream parked. */
  failed(stream: string, outcome: 'retry' | 'park'): void
  /** How far behind the stream is: events not yet delivered (null = unknown) and the oldest one's age. */
  lag(stream: string, events: number | null, seconds: number): void
  /** The stream's deliverer stopped in this process (lease lost, paused, deleted, shutdown): drop its gauges. */
  stopped(stream: string): void
}

export const SILENT_OBSERVER: StreamObserver = { delivered() {}, failed() {}, lag() {}, stopped() {} }
