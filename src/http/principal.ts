import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Principal, Scope } from '../auth/principal.js'
import { AuditqError, isAuditqError } from '../errors.js'

/**
 * What a route demands of its caller; `public` routes (health status, the dashboard shell) demand
 * nothing. `viewer-token` routes (the embeddable viewer's reads) never consult the API-key
 * resolver: they accept only a viewer token, which the route itself verifies.
 */
export type RouteAccess = Scope | 'public' | 'viewer-token'

/** Decides who a request comes from; throws `AUDITQ_UNAUTHORIZED` when it cannot tell. */
export type PrincipalResolver = (request: FastifyRequest) => Promise<Principal> | Principal

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyContextConfig {
    /** Required on every route: registration fails without it, so no route is ever open by accident. */
    access?: RouteAccess
  }
}

/**
 * Every route must declare `config: { access }`; a route that forgets fails at registration, not
 * in production. Public routes skip the resolver (a load balancer's health probe needs no key);
 * every other route resolves the principal and checks its scope before the handler runs.
 */
export function installAccessControl(app: FastifyInstance, resolve: PrincipalResolver): void {
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: RouteAccess } | undefined)?.access
    if (access === undefined) {
      throw new AuditqError('AUDITQ_CONFIG', `route ${String(route.method)} ${route.url} declares no config.access`)
    }
  })
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access
    // Unmatched URLs (404) have no declared access; they reveal nothing, so they resolve nobody.
    // Viewer routes check their own token: an API key presented there grants nothing.
    if (access === undefined || access === 'viewer-token') {
      request.principal = ANONYMOUS
      return
    }
    // A public route answers everyone, and says more to a caller whose key shows it may see more.
    if (access === 'public') {
      request.principal = await Promise.resolve()
        .then(() => resolve(request))
        .catch((error: unknown) => {
          // A key presented and refused is told so (401, or 429 once its client is locked out) and
          // counted like anywhere else: answered as anonymous, guesses here would drain the
          // failed-auth budget unseen, and a monitor carrying a revoked key would never notice.
          // Without a key (a load balancer's probe), or with the key store down, everyone is answered.
          const refused = isAuditqError(error) && (error.code === 'AUDITQ_UNAUTHORIZED' || error.code === 'AUDITQ_RATE_LIMITED')
          if (refused && presentsCredentials(request)) throw error
          return ANONYMOUS
        })
      return
    }
    request.principal = await resolve(request)
    if (!request.principal.scopes.has(access)) {
      throw new AuditqError('AUDITQ_FORBIDDEN', `this key lacks the "${access}" scope this endpoint requires`)
    }
  })
}

/** True when the request carries an Authorization header with anything in it: a credential to check, and to count when it fails. */
export function presentsCredentials(request: FastifyRequest): boolean {
  const header = request.headers.authorization
  return typeof header === 'string' && header.trim() !== ''
}

const ANONYMOUS: Principal = Object.freeze({ keyId: null, tenantId: null, scopes: new Set<Scope>() })

/** True when the caller may see details beyond the public status (monitoring figures, worker names). */
export function hasScope(request: FastifyRequest, scope: Scope): boolean {
  return request.principal?.scopes.has(scope) ?? false
}

/**
 * The tenant a read or write is bounded to. A key's tenant always wins: asking for another tenant
 * is refused (403) rather than silently answered with the key's own rows, so a client never
 * mistakes one tenant's figures for another's. An unbound principal gets what it asked for
 * (`undefined` = every tenant).
 */
export function tenantScope(request: FastifyRequest, requested?: string): string | undefined {
  const bound = request.principal.tenantId
  if (bound === null) return requested
  if (requested !== undefined && requested !== bound) {
    throw new AuditqError('AUDITQ_FORBIDDEN', 'this key is bound to another tenant')
  }
  return bound
}
