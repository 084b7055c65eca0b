/**
 * RFC 5424 messages with RFC 6587 octet-counting framing. Pure: one event in, one frame out.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME auditq PROCID MSGID [auditq@32473 id="…" tenant="…" seq="…" stream="…"] MSG
 *
 * 32473 is the private enterprise number RFC 5612 reserves for documentation and examples; the
 * SD-ID is the place receivers find the event id (the idempotency key) without parsing MSG.
 */
import type { Category } from '../../../event/types.js'
import type { FeedEvent } from '../../sink.js'

export const SD_ID = 'auditq@32473'
const SEVERITY: Record<Category, number> = { info: 6, warning: 4, critical: 2 }

export interface SyslogFields {
  /** 0–23; default 13 (log audit). */
  facility: number
  hostname: string
  procId: string
  streamName: string
}

/** PRINTUSASCII without space, at most `max` characters; '-' (NILVALUE) when nothing is left. */
function header(value: string | null, max: number): string {
  const cleaned = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max)
  return cleaned === '' ? '-' : cleaned
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' are escaped with a backslash. */
function paramValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`)
}

export function syslogMessage(entry: FeedEvent, message: string, fields: SyslogFields): string {
  const { event } = entry
  const pri = fields.facility * 8 + SEVERITY[event.category]
  const sd = `[${SD_ID} id="${paramValue(event.id)}" tenant="${paramValue(event.tenant_id)}" seq="${entry.seq}" stream="${paramValue(fields.streamName)}" action="${paramValue(event.action)}"]`
  return `<${pri}>1 ${event.occurred_at} ${header(fields.hostname, 255)} auditq ${header(fields.procId, 128)} ${header(event.action, 32)} ${sd} ${message}`
}

/** RFC 6587 §3.4.1: MSG-LEN (octets, not characters) SP SYSLOG-MSG. */
export function octetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8')
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body])
}
