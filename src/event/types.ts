export const CATEGORIES = ['info', 'warning', 'critical'] as const
export type Category = (typeof CATEGORIES)[number]

/** What a caller may send (after legacy-shape normalization). Everything but `action` is optional. */
export interface AuditEventInput {
  action: string
  id?: string
  occurred_at?: string | number | Date
  category?: Category
  actor_id?: string
  actor_type?: string
  resource_type?: string
  resource_id?: string
  success?: boolean
  error_message?: string
  description?: string
  ip_address?: string
  user_agent?: string
  session_id?: string
  request_id?: string
  client_id?: string
  metadata?: Record<string, unknown>
  tenant_id?: string
}

/**
 * A validated event, exactly as stored and returned. Every key is present (null when absent) so
 * stores, exports and the canonical form never disagree about a missing field.
 * Timestamps are ISO-8601 UTC strings with millisecond precision.
 */
export interface AuditEvent {
  id: string
  tenant_id: string
  action: string
  category: Category
  occurred_at: string
  received_at: string
  actor_id: string | null
  actor_type: string | null
  resource_type: string | null
  resource_id: string | null
  success: boolean
  error_message: string | null
  description: string | null
  ip_address: string | null
  user_agent: string | null
  session_id: string | null
  request_id: string | null
  client_id: string | null
  metadata: Record<string, unknown>
}

/** Column order shared by every store, export and the CSV header. */
export const EVENT_FIELDS = [
  'id',
  'tenant_id',
  'occurred_at',
  'received_at',
  'action',
  'category',
  'actor_id',
  'actor_type',
  'resource_type',
  'resource_id',
  'success',
  'error_message',
  'description',
  'ip_address',
  'user_agent',
  'session_id',
  'request_id',
  'client_id',
  'metadata',
] as const satisfies readonly (keyof AuditEvent)[]

export interface FieldError {
  /**
   * Dotted path of the offending field as the caller sent it, e.g. `metadata.a.b`; a legacy alias
   * keeps its own name (`userId`, not `actor_id`), and `(root)` means the event as a whole.
   */
  field: string
  /** Stable rule name, e.g. `required`, `max_length`, `pattern`, `ip_address`. */
  rule: string
  message: string
}

export type ValidationResult = { ok: true; event: AuditEvent } | { ok: false; errors: FieldError[] }
