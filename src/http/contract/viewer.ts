/**
 * The contracts of the embeddable viewer's API: minting a viewer token (an API key with the admin
 * or viewer scope), the display templates (read scope), and the viewer's own reads under
 * /v1/viewer/, which take a viewer token and never an API key.
 */
import { z } from 'zod'
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, VIEWER_PERMISSIONS } from '../../viewer/grant.js'
import type { RouteContract } from './contract.js'
import { SEARCH_PARAM } from './events.js'
import { eventFilterShape, FILTER_RULES } from './params.js'
import { EventSchema, EXAMPLE_EVENT, UUID_PATTERN } from './schemas.js'

const VIEWER_TEXT = z.string().min(1).max(256).regex(/^[^\u0000]*$/)

const RestrictionsSchema = z
  .strictObject({
    actor_id: VIEWER_TEXT.optional().describe("Only this actor's events."),
    resource_types: z.array(VIEWER_TEXT).min(1).max(20).optional().describe('Only events on these resource types.'),
  })
  .meta({ id: 'ViewerRestrictions', description: 'Bounds ANDed into every read the token makes: the browser can narrow them, never widen them.' })

const ViewerTokenRequestSchema = z
  .strictObject({
    tenant_id: VIEWER_TEXT.describe("The one tenant the token reads (a key bound to a tenant mints for its own only)."),
    restrictions: RestrictionsSchema.nullable().optional(),
    permissions: z.array(z.enum(VIEWER_PERMISSIONS)).optional().describe('`read` is always granted; add `export` to allow CSV export.'),
    ttl_seconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional().describe(`Lifetime in seconds; default ${DEFAULT_TTL_SECONDS}, at most ${MAX_TTL_SECONDS}.`),
  })
  .meta({ id: 'ViewerTokenRequest' })

const TemplatesSchema = z.record(z.string(), z.string()).describe('Display templates per action, e.g. `{"user.invited": "{actor_name} invited {targets.user.name}"}`.')

const EXAMPLE_TEMPLATES = { 'user.login': '{actor_name} signed in' }

const SessionSchema = z
  .looseObject({
    tenant_id: z.string(),
    restrictions: z.looseObject({ actor_id: z.string().optional(), resource_types: z.array(z.string()).optional() }),
    permissions: z.array(z.enum(VIEWER_PERMISSIONS)),
    expires_at: z.string(),
    templates: TemplatesSchema,
  })
  .meta({ id: 'ViewerSession', description: "What the viewer's token allows, and the display templates." })

const EventPageSchema = z.looseObject({
  events: z.array(EventSchema),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
})

const EventIntegritySchema = z
  .looseObject({
    status: z.enum(['intact', 'broken', 'unchained', 'unknown']).describe('`intact`: its hash matches its content and its successor links to it; `unchained`: stored without a chain position; `unknown`: this store keeps no chain.'),
    seq: z.number().int().optional(),
    detail: z.string().optional(),
  })
  .meta({ id: 'EventIntegrity' })

const TOKEN_ERRORS = ['AUDITQ_VIEWER_DISABLED', 'AUDITQ_VIEWER_TOKEN_INVALID', 'AUDITQ_VIEWER_TOKEN_EXPIRED'] as const

const ID_PARAMS = z.strictObject({ id: z.string().regex(UUID_PATTERN, { error: 'must be a UUID' }).describe('The event id.') })

/** The tenant is the token's: `tenant_id` may only repeat it (another one is refused with 403). */
const TOKEN_TENANT = eventFilterShape.tenant_id.describe("Only the token's own tenant may be named (another is refused with 403); leave it out.")

export function viewerContracts(options: { defaultLimit: number; maxLimit: number }) {
  const limitMessage = `must be an integer from 1 to ${options.maxLimit}`
  const mint: RouteContract = {
    method: 'POST',
    url: '/v1/viewer-tokens',
    operationId: 'createViewerToken',
    summary: 'Mint a viewer token for the embeddable viewer',
    description: "For the application's backend: hand the token to the browser, which shows `<auditq-viewer>` (or the /viewer page) with it. Needs a key with the admin or the viewer scope; the SDK mints the same tokens without a round trip. Field errors are AUDITQ_VALIDATION with the rules `unknown_field`, `string`, `range`, `length`, `enum`.",
    tags: ['viewer'],
    access: 'public',
    scopes: ['admin', 'viewer'],
    body: {
      // The SDK mints with the same parser (src/viewer/grant.ts): one set of field errors for both.
      validation: 'route',
      content: {
        'application/json': {
          schema: ViewerTokenRequestSchema,
          examples: {
            bounded: { summary: "One actor's events, with export, for 10 minutes", value: { tenant_id: 'acme', restrictions: { actor_id: 'u-42' }, permissions: ['read', 'export'], ttl_seconds: 600 } },
          },
        },
      },
    },
    responses: {
      201: {
        description: 'The token and when it expires.',
        content: {
          'application/json': {
            schema: z.looseObject({ token: z.string(), expires_at: z.string() }).meta({ id: 'ViewerToken' }),
            examples: { minted: { value: { token: 'eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJhY21lIn0.c2lnbmF0dXJl', expires_at: '2026-11-23T09:10:00.000Z' } } },
          },
        },
      },
    },
    errors: ['AUDITQ_VALIDATION', 'AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_VIEWER_DISABLED', 'AUDITQ_BODY_TOO_LARGE', 'AUDITQ_UNSUPPORTED_MEDIA_TYPE'],
  }
  const templates: RouteContract = {
    method: 'GET',
    url: '/v1/display-templates',
    operationId: 'getDisplayTemplates',
    summary: 'The display templates per action (setting `AUDITQ_DISPLAY_TEMPLATES`)',
    tags: ['viewer'],
    access: 'read',
    responses: {
      200: { description: 'The templates.', content: { 'application/json': { schema: z.looseObject({ templates: TemplatesSchema }), examples: { templates: { value: { templates: EXAMPLE_TEMPLATES } } } } } },
    },
    errors: ['AUDITQ_FORBIDDEN'],
  }
  const session: RouteContract = {
    method: 'GET',
    url: '/v1/viewer/session',
    operationId: 'getViewerSession',
    summary: "What the presented viewer token allows",
    tags: ['viewer'],
    access: 'viewer-token',
    responses: {
      200: {
        description: "The token's tenant, restrictions, permissions and expiry, and the display templates.",
        content: { 'application/json': { schema: SessionSchema, examples: { session: { value: { tenant_id: 'acme', restrictions: { actor_id: 'u-42' }, permissions: ['read'], expires_at: '2026-11-23T09:15:00.000Z', templates: EXAMPLE_TEMPLATES } } } } },
      },
    },
    errors: [...TOKEN_ERRORS],
  }
  const events: RouteContract = {
    method: 'GET',
    url: '/v1/viewer/events',
    operationId: 'listViewerEvents',
    summary: "Events within the token's bounds, newest first, in keyset pages",
    description: "Every filter (and `q`) is ANDed with the token's tenant and restrictions: a filter the token's restrictions contradict answers an empty page.",
    tags: ['viewer'],
    access: 'viewer-token',
    query: z.strictObject({
      ...eventFilterShape,
      tenant_id: TOKEN_TENANT,
      limit: z
        .string()
        .regex(/^\d{1,6}$/, { error: limitMessage })
        .refine((value) => Number(value) >= 1 && Number(value) <= options.maxLimit, { error: limitMessage })
        .describe(`Events per page (default ${options.defaultLimit}).`)
        .optional(),
      cursor: z.string().describe('`next_cursor` of the previous page.').optional(),
      q: SEARCH_PARAM,
    }),
    rules: { ...FILTER_RULES, limit: 'range' },
    responses: {
      200: { description: 'One page.', content: { 'application/json': { schema: EventPageSchema, examples: { page: { value: { events: [EXAMPLE_EVENT], next_cursor: null } } } } } },
    },
    errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_STORE_UNAVAILABLE', ...TOKEN_ERRORS],
  }
  const event: RouteContract = {
    method: 'GET',
    url: '/v1/viewer/events/:id',
    operationId: 'getViewerEvent',
    summary: "One event by id, when it lies within the token's bounds",
    description: 'An event outside the bounds answers 404, as an absent one does.',
    tags: ['viewer'],
    access: 'viewer-token',
    params: ID_PARAMS,
    rules: { id: 'uuid' },
    responses: { 200: { description: 'The event.', content: { 'application/json': { schema: EventSchema, examples: { event: { value: EXAMPLE_EVENT } } } } } },
    errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_NOT_FOUND', 'AUDITQ_STORE_UNAVAILABLE', ...TOKEN_ERRORS],
  }
  const integrity: RouteContract = {
    method: 'GET',
    url: '/v1/viewer/events/:id/integrity',
    operationId: 'getViewerEventIntegrity',
    summary: "One event's place in its tenant's hash chain, checked",
    tags: ['viewer'],
    access: 'viewer-token',
    params: ID_PARAMS,
    rules: { id: 'uuid' },
    responses: { 200: { description: 'The verdict for this event.', content: { 'application/json': { schema: EventIntegritySchema, examples: { intact: { value: { status: 'intact', seq: 3, detail: 'position 3 in the chain' } } } } } } },
    errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_NOT_FOUND', 'AUDITQ_BUSY', 'AUDITQ_STORE_UNAVAILABLE', ...TOKEN_ERRORS],
  }
  const exportCsv: RouteContract = {
    method: 'GET',
    url: '/v1/viewer/export',
    operationId: 'exportViewerEvents',
    summary: "Every event within the token's bounds and the filters, as CSV",
    description: 'Needs a token with the `export` permission (else 403).',
    tags: ['viewer'],
    access: 'viewer-token',
    query: z.strictObject({ ...eventFilterShape, tenant_id: TOKEN_TENANT, q: SEARCH_PARAM }),
    rules: FILTER_RULES,
    responses: {
      200: {
        description: 'The events, streamed.',
        headers: { 'Content-Disposition': 'attachment; filename="audit-log-<time>.csv"' },
        content: { 'text/csv': { schema: z.string().describe('A header row, then one row per event.') } },
      },
    },
    errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_BUSY', 'AUDITQ_STORE_UNAVAILABLE', ...TOKEN_ERRORS],
  }
  return { mint, templates, session, events, event, integrity, exportCsv }
}
