/**
 * Legal holds and tenants' own retention over HTTP (admin scope). A key is bound to one tenant and
 * manages only that tenant's holds and retention; the open loopback mode manages every tenant.
 * Every change is recorded in the access trail (see src/retention/holds.ts for the order).
 *
 *   POST   /v1/holds                      {tenant_id?, actor_id?, resource?: "TYPE:ID", reason}
 *   GET    /v1/holds[?tenant_id=][&include_released=true]
 *   POST   /v1/holds/:id/release          {reason?}
 *   GET    /v1/retention/tenants
 *   PUT    /v1/retention/tenants/:tenant  {days, keep_actions?}
 *   DELETE /v1/retention/tenants/:tenant
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AccessActor } from '../access/access-event.js'
import type { AccessRecorder } from '../access/recorder.js'
import { AuditqError } from '../errors.js'
import { Holds } from '../retention/holds.js'
import type { RetentionRulesStore } from '../retention/retention-rules.js'
import { accessFromRequest } from './access-trail.js'
import { documented } from './contract/contract.js'
import { HOLD_CONTRACTS, TENANT_RETENTION_CONTRACTS } from './contract/retention.js'

export interface RetentionRuleRouteOptions {
  rules: RetentionRulesStore
  recorder: AccessRecorder
}

type Body = Record<string, unknown> | undefined

export async function retentionRuleRoutes(app: FastifyInstance, options: RetentionRuleRouteOptions): Promise<void> {
  const holdsFor = (request: FastifyRequest) =>
    new Holds(options.rules, (change) => options.recorder.record({ ...accessFromRequest(request, change.kind, { what: {} }), what: change.what, tenant: change.tenant }))
  const actor = (request: FastifyRequest): AccessActor => (request.principal.keyId ? { kind: 'api_key', id: request.principal.keyId } : { kind: 'open', id: null })
  /** The tenant a request acts on: the key's own; a different one named is refused, not moved. */
  const tenantOf = (request: FastifyRequest, named: unknown): unknown => {
    const bound = request.principal.tenantId
    if (bound === null) return named
    if (named !== undefined && named !== bound) throw new AuditqError('AUDITQ_FORBIDDEN', `this key manages only tenant ${JSON.stringify(bound)}`)
    return bound
  }

  app.post(HOLD_CONTRACTS.create.url, documented(HOLD_CONTRACTS.create), async (request, reply) => {
    const body = objectBody(request.body as Body)
    const hold = await holdsFor(request).create(
      {
        tenant_id: tenantOf(request, body['tenant_id']) as string,
        actor_id: optionalString(body, 'actor_id'),
        resource: optionalString(body, 'resource'),
        reason: body['reason'] as string,
      },
      actor(request),
    )
    return reply.status(201).send(hold)
  })

  app.get(HOLD_CONTRACTS.list.url, documented(HOLD_CONTRACTS.list), async (request) => {
    const query = request.query as Record<string, unknown>
    const tenant = tenantOf(request, query['tenant_id'])
    const holds = await holdsFor(request).list({ ...(typeof tenant === 'string' ? { tenant_id: tenant } : {}), includeReleased: query['include_released'] === 'true' })
    return { holds }
  })

  app.post<{ Params: { id: string } }>(HOLD_CONTRACTS.release.url, documented(HOLD_CONTRACTS.release), async (request) => {
    const body = objectBody(request.body as Body)
    return holdsFor(request).release(request.params.id, actor(request), { reason: optionalString(body, 'reason'), tenant: request.principal.tenantId })
  })

  app.get(TENANT_RETENTION_CONTRACTS.list.url, documented(TENANT_RETENTION_CONTRACTS.list), async (request) => {
    const all = await options.rules.listTenantRetention()
    const bound = request.principal.tenantId
    return { tenants: bound === null ? all : all.filter((rule) => rule.tenant_id === bound) }
  })

  app.put<{ Params: { tenant: string } }>(TENANT_RETENTION_CONTRACTS.set.url, documented(TENANT_RETENTION_CONTRACTS.set), async (request) => {
    const body = objectBody(request.body as Body)
    return holdsFor(request).setTenantRetention(tenantOf(request, request.params.tenant), body)
  })

  app.delete<{ Params: { tenant: string } }>(TENANT_RETENTION_CONTRACTS.clear.url, documented(TENANT_RETENTION_CONTRACTS.clear), async (request, reply) => {
    const cleared = await holdsFor(request).clearTenantRetention(tenantOf(request, request.params.tenant))
    if (!cleared) throw new AuditqError('AUDITQ_NOT_FOUND', `tenant ${JSON.stringify(request.params.tenant.slice(0, 128))} has no retention of its own`)
    return reply.status(204).send()
  })
}

function objectBody(body: Body): Record<string, unknown> {
  if (body === undefined || body === null) return {}
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', 'the body must be a JSON object', { details: [{ field: '(body)', rule: 'object', message: 'must be a JSON object' }] })
  }
  return body
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new AuditqError('AUDITQ_BAD_REQUEST', `${field}: must be a string`, { details: [{ field, rule: 'type', message: 'must be a string' }] })
  return value
}
