/**
 * The contracts of legal holds (POST/GET /v1/holds, POST /v1/holds/:id/release) and tenants' own
 * retention (GET /v1/retention/tenants, PUT/DELETE /v1/retention/tenants/:tenant). Bodies are
 * checked by src/retention/holds.ts, which the CLI shares, so both report the same field errors;
 * the schemas document what it accepts.
 */
import { z } from 'zod'
import type { RouteContract } from './contract.js'

const TENANT_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/

const LegalHoldSchema = z
  .looseObject({
    id: z.string(),
    tenant_id: z.string(),
    actor_id: z.string().nullable().describe("Only this actor's events are held; null: any actor."),
    resource_type: z.string().nullable(),
    resource_id: z.string().nullable(),
    reason: z.string(),
    created_at: z.string(),
    created_by: z.string().describe('The API key id, or `cli:<user>` for the command line.'),
    released_at: z.string().nullable(),
    released_by: z.string().nullable(),
  })
  .meta({ id: 'LegalHold', description: 'While not released, retention deletes no event of its tenant that it matches (every event of the tenant when neither actor nor resource is given).' })

const TenantRetentionSchema = z
  .looseObject({ tenant_id: z.string(), days: z.number().int(), keep_actions: z.array(z.string()), updated_at: z.string() })
  .meta({ id: 'TenantRetention', description: 'A tenant\'s own retention, replacing the global `retention.days` / `retention.keepActions` for it.' })

const EXAMPLE_HOLD = {
  id: '0193a3c4-6000-7e8f-9a0b-1c2d3e4f5a6b',
  tenant_id: 'acme',
  actor_id: 'u-42',
  resource_type: null,
  resource_id: null,
  reason: 'Litigation hold, matter 2026-117',
  created_at: '2026-11-23T09:00:00.000Z',
  created_by: '0193a3c4-0000-7000-8000-000000000001',
  released_at: null,
  released_by: null,
}

const EXAMPLE_RETENTION = { tenant_id: 'acme', days: 400, keep_actions: ['user.deleted'], updated_at: '2026-11-23T09:00:00.000Z' }

const ERRORS: RouteContract['errors'] = ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_STORE_UNAVAILABLE']
const BODY_ERRORS: RouteContract['errors'] = [...ERRORS, 'AUDITQ_BODY_TOO_LARGE', 'AUDITQ_UNSUPPORTED_MEDIA_TYPE']

const TENANT_PARAMS = z.strictObject({
  tenant: z.string().regex(TENANT_PATTERN, { error: 'must be 1-128 letters, digits and . _ : -' }).describe('The tenant (a key bound to a tenant names its own).').meta({ examples: ['acme'] }),
})

export const HOLD_CONTRACTS: Record<'create' | 'list' | 'release', RouteContract> = {
  create: {
    method: 'POST',
    url: '/v1/holds',
    operationId: 'createLegalHold',
    summary: 'Place a legal hold: retention keeps every matching event until it is released',
    description: 'Recorded in the access trail. Field errors name the first problem (`required`, `max_length`, `control_characters`, `pattern`, `type_and_id`).',
    tags: ['retention'],
    access: 'admin',
    body: {
      validation: 'route',
      content: {
        'application/json': {
          schema: z
            .looseObject({
              tenant_id: z.string().regex(TENANT_PATTERN).optional().describe("Default: the key's tenant; an unbound key must name one."),
              actor_id: z.string().min(1).max(256).optional().describe("Hold only this actor's events."),
              resource: z.string().min(3).max(512).optional().describe('Hold only events on this resource, `TYPE:ID` (split at the first colon).'),
              reason: z.string().min(1).max(2000).describe('Why; kept with the hold and in the access trail.'),
            })
            .meta({ id: 'LegalHoldRequest' }),
          examples: { actor: { summary: "One actor's events", value: { tenant_id: 'acme', actor_id: 'u-42', reason: 'Litigation hold, matter 2026-117' } } },
        },
      },
    },
    responses: { 201: { description: 'The hold.', content: { 'application/json': { schema: LegalHoldSchema, examples: { hold: { value: EXAMPLE_HOLD } } } } } },
    errors: BODY_ERRORS,
  },
  list: {
    method: 'GET',
    url: '/v1/holds',
    operationId: 'listLegalHolds',
    summary: 'Active legal holds, oldest first',
    tags: ['retention'],
    access: 'admin',
    // Loose, as the route has always been: parameters it does not know are ignored.
    query: z.looseObject({
      tenant_id: z.string().describe("Only this tenant's holds (a key bound to a tenant sees its own).").optional(),
      include_released: z.string().describe('`true` lists released holds too; any other value does not.').optional(),
    }),
    responses: { 200: { description: 'The holds.', content: { 'application/json': { schema: z.looseObject({ holds: z.array(LegalHoldSchema) }), examples: { holds: { value: { holds: [EXAMPLE_HOLD] } } } } } } },
    errors: ERRORS,
  },
  release: {
    method: 'POST',
    url: '/v1/holds/:id/release',
    operationId: 'releaseLegalHold',
    summary: 'Release a legal hold (it stays listed with `include_released=true`)',
    description: 'Recorded in the access trail before it takes effect.',
    tags: ['retention'],
    access: 'admin',
    params: z.strictObject({ id: z.string().describe('The hold id.') }),
    body: {
      validation: 'route',
      content: {
        'application/json': {
          schema: z.looseObject({ reason: z.string().optional().describe('Why it is released.') }),
          examples: { reason: { value: { reason: 'Matter 2026-117 closed' } } },
        },
      },
    },
    responses: {
      200: { description: 'The released hold.', content: { 'application/json': { schema: LegalHoldSchema, examples: { released: { value: { ...EXAMPLE_HOLD, released_at: '2026-12-01T09:00:00.000Z', released_by: EXAMPLE_HOLD.created_by } } } } } },
    },
    errors: [...BODY_ERRORS, 'AUDITQ_NOT_FOUND'],
  },
}

export const TENANT_RETENTION_CONTRACTS: Record<'list' | 'set' | 'clear', RouteContract> = {
  list: {
    method: 'GET',
    url: '/v1/retention/tenants',
    operationId: 'listTenantRetention',
    summary: "Tenants' own retention rules",
    tags: ['retention'],
    access: 'admin',
    responses: {
      200: { description: 'Every rule (a key bound to a tenant sees its own).', content: { 'application/json': { schema: z.looseObject({ tenants: z.array(TenantRetentionSchema) }), examples: { tenants: { value: { tenants: [EXAMPLE_RETENTION] } } } } } },
    },
    errors: ['AUDITQ_FORBIDDEN', 'AUDITQ_STORE_UNAVAILABLE'],
  },
  set: {
    method: 'PUT',
    url: '/v1/retention/tenants/:tenant',
    operationId: 'setTenantRetention',
    summary: "Set a tenant's own retention",
    description: 'Recorded in the access trail. Field errors: `days` rule `range`, `keep_actions` rule `list`, the tenant rule `pattern`.',
    tags: ['retention'],
    access: 'admin',
    params: TENANT_PARAMS,
    body: {
      validation: 'route',
      content: {
        'application/json': {
          schema: z
            .looseObject({
              days: z.union([z.number().int().min(1).max(36_500), z.string().regex(/^\d+$/)]).describe('Whole days, 1–36500 (a string of digits is read as the number).'),
              keep_actions: z.array(z.string().min(1).max(256)).max(100).optional().describe('Actions kept whatever their age (at most 100).'),
            })
            .meta({ id: 'TenantRetentionRequest' }),
          examples: { year: { value: { days: 400, keep_actions: ['user.deleted'] } } },
        },
      },
    },
    responses: { 200: { description: 'The rule in force.', content: { 'application/json': { schema: TenantRetentionSchema, examples: { rule: { value: EXAMPLE_RETENTION } } } } } },
    errors: BODY_ERRORS,
  },
  clear: {
    method: 'DELETE',
    url: '/v1/retention/tenants/:tenant',
    operationId: 'clearTenantRetention',
    summary: "Remove a tenant's own retention (the global setting applies again)",
    tags: ['retention'],
    access: 'admin',
    params: TENANT_PARAMS,
    responses: { 204: { description: 'Removed.' } },
    errors: [...ERRORS, 'AUDITQ_NOT_FOUND'],
  },
}
