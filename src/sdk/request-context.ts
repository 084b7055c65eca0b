import type { AuditEventInput } from '../event/types.js'

/**
 * The parts of a Node `IncomingMessage`, Express `Request` or Fastify `FastifyRequest` this helper
 * reads. Structural, so auditq depends on none of those frameworks.
 */
export interface RequestLike {
  headers: Record<string, string | string[] | undefined>
  /** Express and Fastify resolve this, honouring their own trust-proxy settings. */
  ip?: string
  /** Fastify's request id. */
  id?: string | number
  socket?: { remoteAddress?: string | undefined } | null
}

export type RequestContext = Pick<AuditEventInput, 'ip_address' | 'user_agent' | 'request_id'>

/**
 * Fills `ip_address`, `user_agent` and `request_id` from an incoming request.
 *
 * X-Forwarded-For is deliberately not read here: anyone can send it, so trusting it is the
 * framework's decision (Express `trust proxy`, Fastify `trustProxy`), which `req.ip` reflects.
 */
export function requestContext(req: RequestLike): RequestContext {
  const context: RequestContext = {}
  const ip = req.ip ?? req.socket?.remoteAddress
  if (ip) context.ip_address = unmapIpv4(ip)
  const userAgent = firstHeader(req.headers['user-agent'])
  if (userAgent) context.user_agent = userAgent.slice(0, 1024)
  const requestId = firstHeader(req.headers['x-request-id']) ?? (req.id === undefined ? undefined : String(req.id))
  if (requestId) context.request_id = requestId.slice(0, 256)
  return context
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** Dual-stack sockets report IPv4 peers as `::ffff:a.b.c.d`; audit readers expect `a.b.c.d`. */
function unmapIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}
