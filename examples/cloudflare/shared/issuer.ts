/**
 * A toy OAuth issuer that records token usage with auditq, the way the seed's OpenAuth issuer
 * did: a token event in the seed's shape (`token_id`, `subject`, `event_type`, `timestamp`).
 * It issues random opaque tokens and trusts the request body; real code would call its OAuth
 * library here. Missing or bad fields come back as AUDITQ_VALIDATION (400) from auditq itself.
 *
 * Read routes (`/audit/*`) expose auditq's query and report helpers. Set the secret
 * AUDIT_READ_TOKEN (`wrangler secret put AUDIT_READ_TOKEN`) to require `Authorization: Bearer …`.
 */
import {
  AuditService,
  getEvent,
  isAuditqError,
  parseEventQuery,
  queryEvents,
  reportEvents,
  type AuditEventMessage,
  type D1Database,
  type Queue,
} from 'auditq/cloudflare'

export interface IssuerEnv {
  AUDIT_DB: D1Database
  /** Absent: the AuditService writes to D1 directly. */
  AUDIT_QUEUE?: Queue<AuditEventMessage>
  AUDIT_READ_TOKEN?: string
}

export async function handleIssuerRequest(request: Request, env: IssuerEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
  const audit = new AuditService({ database: env.AUDIT_DB, ...(env.AUDIT_QUEUE ? { queue: env.AUDIT_QUEUE } : {}) })
  const url = new URL(request.url)
  try {
    if (request.method === 'POST' && url.pathname === '/token') {
      const { subject, client_id } = (await request.json()) as { subject: string; client_id?: string }
      const tokenId = crypto.randomUUID()
      // Resolves once the queue (or D1) holds the event; a refusal is an error, not a silent loss.
      const eventId = await audit.log({
        token_id: tokenId,
        subject,
        event_type: 'generated',
        ...(client_id ? { client_id } : {}),
        ...clientContext(request),
        timestamp: Date.now(),
      })
      return Response.json({ access_token: `at_${tokenId}`, token_id: tokenId, audit_event_id: eventId })
    }
    if (request.method === 'POST' && url.pathname === '/token/revoke') {
      const { token_id, subject } = (await request.json()) as { token_id: string; subject: string }
      // Critical events skip the queue and are in D1 when this returns.
      const eventId = await audit.logCritical({ token_id, subject, event_type: 'revoked', timestamp: Date.now() })
      return Response.json({ revoked: token_id, audit_event_id: eventId })
    }
    if (request.method === 'POST' && url.pathname === '/token/introspect') {
      const { token_id, subject } = (await request.json()) as { token_id: string; subject: string }
      // Off the response path: the write continues under waitUntil; a failure is logged and counted.
      audit.logDetached({ token_id, subject, event_type: 'introspected', timestamp: Date.now() }, ctx)
      return Response.json({ active: true })
    }
    if (request.method === 'GET' && url.pathname.startsWith('/audit/')) {
      if (env.AUDIT_READ_TOKEN && request.headers.get('authorization') !== `Bearer ${env.AUDIT_READ_TOKEN}`) {
        return Response.json({ code: 'AUDITQ_UNAUTHORIZED', message: 'Authorization: Bearer <AUDIT_READ_TOKEN> required' }, { status: 401 })
      }
      return await auditRead(url, env.AUDIT_DB)
    }
    return Response.json({ code: 'AUDITQ_NOT_FOUND', message: `${request.method} ${url.pathname}` }, { status: 404 })
  } catch (error) {
    if (isAuditqError(error)) return Response.json({ code: error.code, message: error.message, details: error.details }, { status: error.statusCode })
    console.error(JSON.stringify({ msg: 'issuer fault', error: String(error) }))
    return Response.json({ code: 'AUDITQ_INTERNAL', message: 'unexpected fault' }, { status: 500 })
  }
}

/** Where the request came from, as Cloudflare reports it (never a raw X-Forwarded-For). */
function clientContext(request: Request): { ip_address?: string; user_agent?: string } {
  const ip = request.headers.get('cf-connecting-ip')
  const agent = request.headers.get('user-agent')
  return { ...(ip ? { ip_address: ip } : {}), ...(agent ? { user_agent: agent } : {}) }
}

async function auditRead(url: URL, db: D1Database): Promise<Response> {
  if (url.pathname === '/audit/events') {
    const { filter, limit, cursor } = parseEventQuery(url.searchParams)
    return Response.json(await queryEvents(db, filter, { limit, ...(cursor ? { cursor } : {}) }))
  }
  if (url.pathname === '/audit/report') {
    const { filter } = parseEventQuery(url.searchParams, ['interval'])
    const interval = url.searchParams.get('interval')
    return Response.json(await reportEvents(db, filter, interval === 'hour' || interval === 'day' ? { interval } : {}))
  }
  if (url.pathname === '/audit/token-usage') {
    // The seed's table, kept as a view over audit_logs.
    const { results } = await db.prepare('SELECT * FROM token_usage WHERE token_id = ? ORDER BY timestamp DESC LIMIT 100').bind(url.searchParams.get('token_id')).all()
    return Response.json({ token_usage: results })
  }
  const byId = /^\/audit\/events\/([0-9a-fA-F-]{36})$/.exec(url.pathname)
  if (byId) {
    const event = await getEvent(db, byId[1]!)
    return event ? Response.json(event) : Response.json({ code: 'AUDITQ_NOT_FOUND' }, { status: 404 })
  }
  return Response.json({ code: 'AUDITQ_NOT_FOUND', message: url.pathname }, { status: 404 })
}
