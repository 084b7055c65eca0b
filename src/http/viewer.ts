import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import type { AuditEvent, FieldError } from '../event/types.js'
import { BusyGate } from './busy-gate.js'
import { hasScope, presentsCredentials, tenantScope } from './principal.js'
import { csvHeader, csvRow } from '../query/csv.js'
import { badRequest, parseEventFilter, single } from '../query/filter.js'
import { decodeCursor, encodeCursor } from '../store/cursor.js'
import type { Store } from '../store/store.js'
import { allowOrigin, frameAncestors } from './viewer-cors.js'
import { parseViewerTokenRequest, type ViewerGrant } from '../viewer/grant.js'
import { loadViewerPage } from '../viewer/page.js'
import { checkEventIntegrity } from '../integrity/event-integrity.js'
import { abortWhenClientLeaves } from './integrity.js'
import { grantCovers, restrictFilter } from '../viewer/restrict.js'
import { createViewerToken, hasViewerPermission, verifyViewerToken } from '../viewer/token.js'
import { documented } from './contract/contract.js'
import { viewerContracts } from './contract/viewer.js'
import { withSearch } from './query.js'

export interface ViewerRouteOptions {
  store: Store
  viewer: Config['viewer']
  defaultLimit: number
  maxLimit: number
  exports: Pick<Config['reads'], 'exportMaxConcurrent' | 'exportMaxPerTenant' | 'verifyMaxConcurrent'>
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BEARER = /^Bearer +(\S+) *$/i
const EXPORT_BUSY_RETRY_SECONDS = 5

/**
 * The embeddable viewer: POST /v1/viewer-tokens (mint, for the application's backend), the
 * viewer's own reads under /v1/viewer/ (viewer token only), GET /viewer.js (the web component)
 * and GET /viewer (the standalone page for an iframe). Without a signing secret only the script
 * and page answer; every token route says the viewer is off.
 */
export async function viewerRoutes(app: FastifyInstance, options: ViewerRouteOptions): Promise<void> {
  const { store, viewer } = options
  const assets = loadViewerPage(app.log)
  const verifyGate = new BusyGate({ what: 'chain verification', perTenant: 1, global: options.exports.verifyMaxConcurrent, retryAfterSeconds: EXPORT_BUSY_RETRY_SECONDS })
  const exportGate = new BusyGate({ what: 'export', perTenant: options.exports.exportMaxPerTenant, global: options.exports.exportMaxConcurrent, retryAfterSeconds: EXPORT_BUSY_RETRY_SECONDS })

  // Every answer of this plugin (errors included: the viewer must read a 401's message) carries
  // CORS headers for an allowed origin, and only for one.
  app.addHook('onSend', async (request, reply) => {
    allowOrigin(request, reply, viewer.allowedOrigins)
  })

  const secret = (): string => {
    if (viewer.signingSecret === undefined) throw new AuditqError('AUDITQ_VIEWER_DISABLED', 'the viewer is off: set AUDITQ_VIEWER_SECRET to enable it')
    return viewer.signingSecret
  }
  const contracts = viewerContracts(options)
  const grantOf = async (request: FastifyRequest): Promise<ViewerGrant> => {
    const key = secret()
    const header = request.headers.authorization
    const token = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined
    if (token === undefined) throw new AuditqError('AUDITQ_VIEWER_TOKEN_INVALID', 'no viewer token was presented (Authorization: Bearer <token>)')
    return verifyViewerToken(token, key)
  }
  // The token is checked first (onRequest, before the contract's check of the query): a caller
  // without a valid token learns nothing, not even which of its parameters are wrong.
  const grants = new WeakMap<FastifyRequest, ViewerGrant>()
  const withToken = (contract: Parameters<typeof documented>[0]) => ({
    ...documented(contract),
    onRequest: async (request: FastifyRequest) => {
      grants.set(request, await grantOf(request))
    },
  })
  const grantFor = (request: FastifyRequest): ViewerGrant => {
    const grant = grants.get(request)
    if (!grant) throw new AuditqError('AUDITQ_VIEWER_TOKEN_INVALID', 'no viewer token was presented (Authorization: Bearer <token>)')
    return grant
  }

  // Public to the access control because either of two scopes will do: checked here, before the body is read.
  const mintOptions = {
    ...documented(contracts.mint),
    onRequest: async (request: FastifyRequest) => {
      secret()
      if (!hasScope(request, 'admin') && !hasScope(request, 'viewer')) {
        if (presentsCredentials(request)) throw new AuditqError('AUDITQ_FORBIDDEN', 'minting viewer tokens needs a key with the "admin" or "viewer" scope')
        throw new AuditqError('AUDITQ_UNAUTHORIZED', 'minting viewer tokens needs an API key (Authorization: Bearer <key>) with the "admin" or "viewer" scope')
      }
    },
  }
  app.post(contracts.mint.url, mintOptions, async (request, reply) => {
    const key = secret()
    const request_ = parseViewerTokenRequest(request.body)
    // A key bound to a tenant mints only for that tenant.
    tenantScope(request, request_.tenant_id)
    const minted = await createViewerToken({ ...request_, secret: key })
    return reply.status(201).send(minted)
  })

  // The templates alone, for the dashboard (which reads with an API key, not a viewer token).
  app.get(contracts.templates.url, documented(contracts.templates), async () => ({ templates: viewer.templates }))

  // Preflight for the viewer's reads: they carry the token in Authorization, which needs one.
  app.options('/v1/viewer/*', { config: { access: 'public' } }, async (_request, reply) => {
    reply.header('access-control-allow-methods', 'GET, OPTIONS').header('access-control-allow-headers', 'authorization').header('access-control-max-age', '600')
    return reply.status(204).send()
  })

  app.get(contracts.session.url, withToken(contracts.session), async (request) => {
    const grant = grantFor(request)
    return { ...grant, templates: viewer.templates }
  })

  app.get(contracts.events.url, withToken(contracts.events), async (request) => {
    const grant = grantFor(request)
    const raw = boundedQuery(request, grant)
    // The search box's `q` is one more filter: restrictFilter keeps it and ANDs the token's bounds.
    const asked = withSearch(parseEventFilter(raw, ['limit', 'cursor', 'q']), raw)
    const errors: FieldError[] = []
    const limit = parseLimit(single(raw, 'limit', errors), options, errors)
    const cursor = single(raw, 'cursor', errors)
    if (errors.length > 0) throw badRequest(errors)
    const filter = restrictFilter(asked, grant)
    if (filter === null) return { events: [], next_cursor: null }
    const page = await store.query(filter, { limit, ...(cursor ? { after: decodeCursor(cursor) } : {}) })
    return { events: page.events, next_cursor: page.next ? encodeCursor(page.next) : null }
  })

  const eventInBounds = async (request: FastifyRequest<{ Params: { id: string } }>, grant: ViewerGrant): Promise<AuditEvent> => {
    const { id } = request.params
    if (!UUID.test(id)) throw badRequest([{ field: 'id', rule: 'uuid', message: 'must be a UUID' }])
    const event = await store.getById(id.toLowerCase(), { tenant_id: grant.tenant_id })
    // Outside the token's bounds and absent look the same: the answer must not confirm an id exists.
    if (!event || !grantCovers(grant, event)) throw new AuditqError('AUDITQ_NOT_FOUND', `no event with id ${id}`)
    return event
  }

  app.get<{ Params: { id: string } }>(contracts.event.url, withToken(contracts.event), async (request) => {
    return eventInBounds(request, grantFor(request))
  })

  // Separate from the event itself so the drawer opens at once and the check follows.
  app.get<{ Params: { id: string } }>(contracts.integrity.url, withToken(contracts.integrity), async (request, reply) => {
    const grant = grantFor(request)
    const event = await eventInBounds(request, grant)
    const integrity = store.integrity
    if (!integrity) return { status: 'unknown' }
    return verifyGate.run(reply, grant.tenant_id, async () => {
      const gone = abortWhenClientLeaves(reply)
      try {
        return await checkEventIntegrity(store.kind, integrity, grant.tenant_id, event.id, gone.signal)
      } finally {
        gone.dispose()
      }
    })
  })

  app.get(contracts.exportCsv.url, withToken(contracts.exportCsv), async (request, reply) => {
    const grant = grantFor(request)
    if (!hasViewerPermission(grant, 'export')) throw new AuditqError('AUDITQ_FORBIDDEN', 'this viewer token does not allow export')
    const raw = boundedQuery(request, grant)
    const filter = restrictFilter(withSearch(parseEventFilter(raw, ['q']), raw), grant)
    const release = exportGate.acquire(reply, grant.tenant_id)
    reply.raw.once('close', release)
    const rows = filter === null ? emptyRows() : store.stream(filter)
    async function* lines(): AsyncGenerator<string> {
      try {
        yield csvHeader()
        for await (const event of rows) yield csvRow(event)
      } finally {
        release()
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-log-${stamp}.csv"`)
      .send(Readable.from(lines()))
  })

  app.get('/viewer.js', { config: { access: 'public' } }, async (_request, reply) => {
    const script = assets.script()
    return noStore(reply).header('content-type', 'text/javascript; charset=utf-8').send(script)
  })

  app.get('/viewer', { config: { access: 'public' } }, async (_request, reply) => {
    return noStore(reply)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', assets.pageCsp(frameAncestors(viewer.allowedOrigins)))
      .send(assets.page())
  })
}

/**
 * The browser's query minus anything that could name the tenant: the token names it. A
 * `tenant_id` other than the token's is refused (403), like a key asking for another tenant.
 */
function boundedQuery(request: FastifyRequest, grant: ViewerGrant): Record<string, unknown> {
  const raw = { ...(request.query as Record<string, unknown>) }
  if (raw.tenant_id !== undefined && raw.tenant_id !== grant.tenant_id) throw new AuditqError('AUDITQ_FORBIDDEN', 'this viewer token is bound to another tenant')
  delete raw.tenant_id
  return raw
}

function parseLimit(value: string | undefined, options: ViewerRouteOptions, errors: FieldError[]): number {
  if (value === undefined) return options.defaultLimit
  const limit = /^\d{1,6}$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(limit) || limit < 1 || limit > options.maxLimit) {
    errors.push({ field: 'limit', rule: 'range', message: `must be an integer from 1 to ${options.maxLimit}` })
    return options.defaultLimit
  }
  return limit
}

async function* emptyRows(): AsyncGenerator<AuditEvent> {}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
}
