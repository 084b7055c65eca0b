/** An event as the older snake_case logger LPUSHed it, numbered through metadata.seq. */
export function oldLoggerItem(seq: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    user_id: `u${seq % 7}`,
    resource_type: 'api_key',
    resource_id: `k${seq}`,
    event_type: 'api_key_created',
    event_category: 'info',
    description: `key ${seq} created`,
    metadata: { seq },
    ip_address: '::ffff:10.0.0.1',
    user_agent: 'old-app/1.0',
    created_at: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(),
    ...extra,
  })
}

/** An event as the older BullMQ processor's process-log-event jobs carried it (camelCase). */
export function oldProcessorEvent(seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userId: `u${seq % 5}`,
    action: 'config.update',
    resourceType: 'guild',
    resourceId: `g${seq}`,
    ipAddress: '192.0.2.7',
    userAgent: 'admin-ui/2.0',
    success: seq % 10 !== 0,
    details: { seq },
    sessionId: `s${seq % 3}`,
    requestId: `r${seq}`,
    timestamp: Date.UTC(2026, 0, 2) + seq,
    ...extra,
  }
}
