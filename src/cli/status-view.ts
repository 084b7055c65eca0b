/** What GET /api/v1/monitoring/audit-metrics answers (the fields `auditq status` shows). */
export interface AuditMetricsBody {
  health: { status: string; issues: string[] }
  services?: Record<string, string>
  metrics: {
    mode: 'direct' | 'queue'
    queue_length: number | null
    oldest_event_age_seconds: number | null
    dead_letters: number | null
    spill_waiting_events?: number
    live_workers: number
    arrival_rate_per_second?: number
    ingest_rate_per_second: number
    store_rate_per_second: number
    inserts_last_minute: number
    failures_last_minute: number
    avg_batch_time_ms: number
    avg_batch_size?: number
    current_batch_size: number
    total_dropped_events: number
    total_overflow_events: number
    total_spilled_events?: number
  }
  recommendations: { severity: string; message: string }[]
  timestamp: string
}

const COLORS: Record<string, string> = { healthy: '\x1b[32m', warning: '\x1b[33m', degraded: '\x1b[33m', critical: '\x1b[31m' }

/** The compact terminal view of `auditq status`; pure, so its layout is tested without a service. */
export function renderStatus(body: AuditMetricsBody, url: string, color: boolean): string {
  const m = body.metrics
  const n = (value: number | null | undefined, unit = '') => (value === null || value === undefined ? '?' : `${Math.round(value).toLocaleString('en-US')}${unit}`)
  const paint = (text: string, status: string) => (color && COLORS[status] ? `${COLORS[status]}${text}\x1b[0m` : text)
  const status = body.health.status
  const lines = [
    `auditq  ${url}  ${m.mode} mode  ${body.timestamp}`,
    `status    ${paint(status.toUpperCase(), status)}`,
  ]
  body.health.issues.forEach((issue, i) => lines.push(`${i === 0 ? 'issues' : '      '}    - ${issue}`))
  if (body.services) lines.push(`services  ${Object.entries(body.services).map(([name, state]) => `${name} ${state}`).join(' · ')}`)
  const queueLabel = m.mode === 'queue' ? 'queue' : 'pending'
  const oldest = m.oldest_event_age_seconds === null ? 'none waiting' : `oldest ${m.oldest_event_age_seconds.toFixed(1)} s`
  lines.push(
    '',
    `${queueLabel.padEnd(10)}${n(m.queue_length)} events   ${oldest}   dead letters ${n(m.dead_letters)}   spill waiting ${n(m.spill_waiting_events ?? 0)}`,
    `rates     arriving ${n(m.arrival_rate_per_second ?? m.ingest_rate_per_second)}/s   stored ${n(m.store_rate_per_second)}/s   ingest here ${n(m.ingest_rate_per_second)}/s`,
    `last min  inserts ${n(m.inserts_last_minute)}   failures ${n(m.failures_last_minute)}   batch ${n(m.avg_batch_time_ms)} ms, ${n(m.avg_batch_size ?? m.current_batch_size)} events`,
    `totals    dropped ${n(m.total_dropped_events)}   overflowed ${n(m.total_overflow_events)}   spilled ${n(m.total_spilled_events ?? 0)}`,
  )
  if (m.mode === 'queue') lines.push(`workers   ${n(m.live_workers)} live`)
  const advice = body.recommendations.filter((r) => r.severity !== 'info')
  if (advice.length > 0) lines.push('', ...advice.map((r) => `${paint('>', r.severity === 'critical' ? 'critical' : 'warning')} ${r.message}`))
  return lines.join('\n') + '\n'
}
