/**
 * Records access to the trail from the HTTP layer (with API keys; not in the open loopback mode). A route opts in with one line in its config —
 * `config: { access: 'read', trail: 'query' }` — and this hook records, before the handler runs,
 * who (key id and name), what (query string and path parameters, without the page cursor), which
 * tenant and from where. The handler runs only once the record is stored: a read that cannot be
 * recorded is refused with `AUDITQ_ACCESS_UNRECORDED` (see docs/access-trail.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isRead, type AccessKind, type AccessRecord } from '../access/access-event.js'
import type { AccessRecorder } from '../access/recorder.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a request to this route is recorded as in the access trail (absent: not recorded). */
    trail?: AccessKind
  }
}

/**
 * Paging and waiting are not part of what was asked: every page of one query is the same access,
 * and so is every long-poll of one feed follower (`after` moves with each page, `wait` only says
 * how long to hold an empty one). Keeping `after` out is also what stops the all-tenants feed
 * from feeding itself: its reader's next page would otherwise be a new access, recorded as a new
 * event, which that reader's next page returns (docs/decisions.md, "Recording feed reads").
 */
const NOT_PART_OF_THE_FILTER = new Set(['cursor', 'limit', 'after', 'wait'])
/**
 * A credential sent in the URL (`?api_key=…`, refused for authentication but still sent) must not
 * end up in the trail: any parameter whose name suggests one is recorded as `[REDACTED]`.
 */
const CREDENTIAL_NAME = /key|token|secret|passw|auth|signature/i

export function installAccessTrail(app: FastifyInstance, recorder: AccessRecorder): void {
  // preValidation, not preHandler: a documented route checks its request against its contract in
  // its own preValidation hook, which runs after this one, so a refused attempt is recorded too.
  app.addHook('preValidation', async (request) => {
    const kind = request.routeOptions.config.trail
    // The open loopback mode (no API key exists) has no identity to record and serves only this
    // machine; with keys, every read is recorded.
    if (kind === undefined || !request.principal?.keyId) return
    // A change made by a body (a stream created) names what it changed there; only the name is
    // kept: the rest of a definition may carry secrets (a webhook's signing secret, a URL's password).
    const body = request.body as { name?: unknown } | null | undefined
    const named = !isRead(kind) && typeof body?.name === 'string' ? { what: { name: body.name.slice(0, 200) } } : {}
    await recorder.record(accessFromRequest(request, kind, named))
  })
}

/** The access record of an HTTP request: also for routes that record from their handler (a hold created, a stream changed). */
export function accessFromRequest(request: FastifyRequest, kind: AccessKind, extra: Partial<Pick<AccessRecord, 'what' | 'success' | 'description' | 'tenant'>> = {}): AccessRecord {
  const what: Record<string, unknown> = {}
  for (const source of [request.params, request.query]) {
    if (!source || typeof source !== 'object') continue
    for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
      if (!NOT_PART_OF_THE_FILTER.has(name)) what[name] = CREDENTIAL_NAME.test(name) ? '[REDACTED]' : value
    }
  }
  const { principal } = request
  const askedTenant = typeof what['tenant_id'] === 'string' ? what['tenant_id'] : null
  // The feed lets an admin key read across tenants whatever tenant the key itself is bound to
  // (src/http/feed.ts): what it read is the tenant it named, or all of them.
  const acrossTenants = kind === 'feed.read' && principal?.scopes.has('admin') === true
  const userAgent = request.headers['user-agent']
  return {
    kind,
    actor: principal?.keyId ? { kind: 'api_key', id: principal.keyId, name: principal.keyName ?? null } : { kind: 'open', id: null },
    tenant: acrossTenants ? askedTenant : (principal?.tenantId ?? askedTenant),
    what: { ...what, ...extra.what },
    from: { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined, requestId: request.id },
    ...(extra.tenant !== undefined ? { tenant: extra.tenant } : {}),
    ...(extra.success !== undefined ? { success: extra.success } : {}),
    ...(extra.description !== undefined ? { description: extra.description } : {}),
  }
}
