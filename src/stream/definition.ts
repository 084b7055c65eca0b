/**
 * What a stream is: its name, whose events it sees, which of them, and where they go. Pure: the
 * shapes, their validation (every refusal names the field and the rule) and the glob matcher.
 */
import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'

export const SINK_KINDS = ['webhook', 'syslog', 'archive'] as const
export type SinkKind = (typeof SINK_KINDS)[number]
export const STREAM_FORMATS = ['json', 'ocsf'] as const
export type StreamFormat = (typeof STREAM_FORMATS)[number]
export const WEBHOOK_PRESETS = ['generic', 'splunk-hec', 'datadog'] as const
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number]

/** Glob lists: an event passes when every non-empty list has a pattern matching its field. */
export interface StreamFilter {
  tenants: string[]
  actions: string[]
  categories: string[]
  /** Replays only: events that occurred before this instant are skipped. */
  from?: string
}

export interface StreamSinkConfig {
  kind: SinkKind
  /** webhook: http(s)://…; syslog: tcp://host:port or tls://host:port; archive: its own URL. */
  url: string
  /** Sink-specific options as given (secret, gzip, preset, token, ca file …); each sink validates its own. */
  options: Record<string, string>
}

export interface StreamDefinition {
  name: string
  /** The tenant that owns the stream and whose events alone it sees; null = an admin stream over all tenants. */
  owner_tenant: string | null
  sink: StreamSinkConfig
  filter: StreamFilter
  format: StreamFormat
  /** Most events per delivered batch. */
  batch_size: number
}

export type StreamState = 'active' | 'paused' | 'parked'

/** A stream as stored: its definition plus where it is and how it is doing. */
export interface StreamRecord extends StreamDefinition {
  state: StreamState
  /** Opaque feed cursor after the last acknowledged event; null = nothing delivered yet. */
  position: string | null
  delivered: number
  /** The latest failure (retried or parking), kept until a delivery succeeds. */
  last_error: string | null
  /** When the current run of failures began; null while deliveries succeed. */
  failing_since: string | null
  /** When the last acknowledged event was committed (occurred_at of the newest delivered). */
  delivered_through: string | null
  /** A replay: the live stream it backfills for; it ends once it has caught up. */
  replay_of: string | null
  lease_owner: string | null
  lease_expires_at: string | null
  created_at: string
}

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/
const GLOB = /^[\x21-\x7e]{1,200}$/

export function invalid(field: string, rule: string, message: string): AuditqError {
  return new AuditqError('AUDITQ_STREAM_INVALID', `${field}: ${message}`, { details: [{ field, rule, message }] })
}

/** Checks a definition from the CLI or HTTP; throws AUDITQ_STREAM_INVALID naming the field. */
export function validateDefinition(input: StreamDefinition): StreamDefinition {
  if (!NAME.test(input.name)) throw invalid('name', 'pattern', 'a stream name is 1–63 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit')
  if (!(SINK_KINDS as readonly string[]).includes(input.sink.kind)) throw invalid('sink', 'enum', `sink must be one of ${SINK_KINDS.join(', ')}`)
  if (!(STREAM_FORMATS as readonly string[]).includes(input.format)) throw invalid('format', 'enum', `format must be one of ${STREAM_FORMATS.join(', ')}`)
  if (!Number.isInteger(input.batch_size) || input.batch_size < 1 || input.batch_size > 10_000) throw invalid('batch_size', 'range', 'batch_size must be an integer from 1 to 10000')
  let url: URL
  try {
    url = new URL(input.sink.url)
  } catch {
    throw invalid('url', 'format', `"${input.sink.url}" is not a URL`)
  }
  if (input.sink.kind === 'webhook' && url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('url', 'scheme', 'a webhook URL is http:// or https://')
  if (input.sink.kind === 'syslog') {
    // UDP drops a datagram whenever a buffer is full or the receiver is down, and nothing tells
    // the sender: a delivery could never be acknowledged, so the position could not be trusted.
    if (url.protocol === 'udp:') throw invalid('url', 'scheme', 'syslog over UDP is refused: UDP loses messages silently (no acknowledgement, no error when the receiver is down or its buffer full), so at-least-once delivery is impossible. Use tcp://host:port (RFC 6587) or tls://host:port (RFC 5425)')
    if (url.protocol !== 'tcp:' && url.protocol !== 'tls:') throw invalid('url', 'scheme', 'a syslog URL is tcp://host:port or tls://host:port')
    if (!url.port) throw invalid('url', 'port', 'a syslog URL needs a port')
  }
  for (const [field, list] of [['tenant', input.filter.tenants], ['action', input.filter.actions], ['category', input.filter.categories]] as const) {
    for (const glob of list) if (!GLOB.test(glob)) throw invalid(field, 'glob', `"${glob}" is not a glob of 1–200 printable characters`)
  }
  if (input.owner_tenant !== null && input.filter.tenants.some((glob) => !globMatches(glob, input.owner_tenant!))) {
    throw invalid('tenant', 'scope', `a stream owned by tenant "${input.owner_tenant}" sees only that tenant's events`)
  }
  return input
}

/** `*` matches any run of characters, `?` one; everything else is literal. */
export function globMatches(glob: string, value: string): boolean {
  return globRegExp(glob).test(value)
}

const compiled = new Map<string, RegExp>()
function globRegExp(glob: string): RegExp {
  let re = compiled.get(glob)
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
    re = new RegExp(`^${body}$`)
    if (compiled.size > 1000) compiled.clear()
    compiled.set(glob, re)
  }
  return re
}

/** Does the stream want this event? The owner tenant bounds everything else. */
export function streamWants(definition: Pick<StreamDefinition, 'owner_tenant' | 'filter'>, event: AuditEvent): boolean {
  if (definition.owner_tenant !== null && event.tenant_id !== definition.owner_tenant) return false
  const { tenants, actions, categories } = definition.filter
  const any = (globs: string[], value: string) => globs.length === 0 || globs.some((glob) => globMatches(glob, value))
  if (definition.filter.from !== undefined && event.occurred_at < definition.filter.from) return false
  return any(tenants, event.tenant_id) && any(actions, event.action) && any(categories, event.category)
}

/** The exact tenant a filter pins the stream to, if any (lets the feed read one tenant only). */
export function singleTenant(definition: Pick<StreamDefinition, 'owner_tenant' | 'filter'>): string | null {
  if (definition.owner_tenant !== null) return definition.owner_tenant
  const [only, ...rest] = definition.filter.tenants
  return only !== undefined && rest.length === 0 && !/[*?]/.test(only) ? only : null
}

/** What `streams show` and the API print: the secret options are never echoed. */
export function redactOptions(options: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [key, /secret|token|key|password/i.test(key) ? '********' : value]))
}
