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
  /** Display name of the actor; the stable id stays `actor_id`. */
  actor_name?: string
  /** Everything the action touched; `resource_type`/`resource_id` remain the primary target. */
  targets?: EventTarget[]
  /** Field-level changes of an update: `{ field: { before, after } }`. */
  changes?: Record<string, { before?: unknown; after?: unknown }>
  /** The producer (an SDK instance, or an HTTP client's own id) and its gap-free sequence number. */
  producer_id?: string
  producer_seq?: number
  /** Encrypted personal values keyed by field path (crypto-shredding); the plaintext fields are then null. */
  sealed?: Record<string, string>
  /** Keyed blind index (HMAC-SHA-256, hex) of the sealed subject, for equality filters. */
  subject_index?: string
}

/** One thing an action touched. */
export interface EventTarget {
  type: string
  id: string
  name?: string
}

/** One changed field of an update event. */
export interface FieldChange {
  before: unknown
  after: unknown
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
  actor_name: string | null
  targets: EventTarget[] | null
  changes: Record<string, FieldChange> | null
  producer_id: string | null
  producer_seq: number | null
  subject_index: string | null
  sealed: Record<string, string> | null
}

/**
 * Fields added with canonical form auditq.v2. An event encoded before them (a queue entry or a
 * spilled record written by an older version) lacks the keys; `withAddedFields` fills in null.
 */
export const ADDED_FIELDS = ['actor_name', 'targets', 'changes', 'producer_id', 'producer_seq', 'subject_index', 'sealed'] as const

/** The added fields, all absent: for events built in code (system events, fixtures) that set none of them. */
export function noAddedFields(): Pick<AuditEvent, (typeof ADDED_FIELDS)[number]> {
  return { actor_name: null, targets: null, changes: null, producer_id: null, producer_seq: null, subject_index: null, sealed: null }
}

/** The event with every field added since auditq.v1 present (null when it was not sent). Mutates and returns `event`. */
export function withAddedFields(event: AuditEvent): AuditEvent {
  for (const field of ADDED_FIELDS) if (event[field] === undefined) (event as unknown as Record<string, null>)[field] = null
  return event
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
  // Added with auditq.v2: after the original columns, so a CSV reader keyed on the old ones still works.
  'actor_name',
  'targets',
  'changes',
  'producer_id',
  'producer_seq',
  'subject_index',
  'sealed',
] as const satisfies readonly (keyof AuditEvent)[]

/**
 * The columns as they were before auditq.v2 added fields: what a migration written then (which
 * must keep doing exactly what it did) copies.
 */
export const EVENT_FIELDS_V1 = EVENT_FIELDS.slice(0, EVENT_FIELDS.indexOf('metadata') + 1)

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
