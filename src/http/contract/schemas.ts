/**
 * Shapes shared by several routes, in zod, each with a component name (`meta.id`) so the
 * document refers to one definition. Limits come from the validator's own constants.
 */
import { z } from 'zod'
import { ERROR_CATALOG, type ErrorCode } from '../../errors.js'
import { METADATA_MAX_BYTES, METADATA_MAX_DEPTH } from '../../event/metadata.js'
import { CATEGORIES } from '../../event/types.js'
import { ACTION_MAX, ACTION_PATTERN, TENANT_MAX, TENANT_PATTERN, TEXT_LIMITS } from '../../event/validate.js'

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const FieldErrorSchema = z
  .looseObject({
    field: z.string().describe('The field as the caller sent it, dotted for nested ones (`metadata.a.b`); `(root)`/`(body)`/`(url)` for the whole.'),
    rule: z.string().describe('Stable rule name: `required`, `max_length`, `pattern`, `unknown_parameter` …'),
    message: z.string(),
  })
  .meta({ id: 'FieldError' })

const ERROR_CODE_VALUES = Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]]

export const ErrorBodySchema = z
  .looseObject({
    statusCode: z.number().int(),
    code: z.enum(ERROR_CODE_VALUES).describe('Stable catalog code (docs/errors.md).'),
    error: z.string().describe('The HTTP reason phrase.'),
    message: z.string(),
    details: z.unknown().optional().describe('A list of FieldError for 400 AUDITQ_BAD_REQUEST; `{rejected: [...]}` for AUDITQ_VALIDATION.'),
  })
  .meta({
    id: 'ErrorBody',
    description: 'Every error, whatever the route, has this shape.',
    examples: [
      {
        statusCode: 400,
        code: 'AUDITQ_BAD_REQUEST',
        error: 'Bad Request',
        message: 'limit: must be an integer from 1 to 1000; got "0"',
        details: [{ field: 'limit', rule: 'range', message: 'must be an integer from 1 to 1000; got "0"' }],
      },
    ],
  })

const text = (field: keyof typeof TEXT_LIMITS) => z.string().max(TEXT_LIMITS[field])

/** One event as a client sends it (the canonical field names; legacy shapes are described in docs/event-format.md). */
export const EventInputSchema = z
  .strictObject({
    action: z.string().min(1).max(ACTION_MAX).regex(ACTION_PATTERN).describe('What happened, e.g. `user.login`.'),
    id: z.string().regex(UUID_PATTERN).optional().describe('A UUID of your own: a retry with the same id is stored once.'),
    occurred_at: z.union([z.string(), z.number()]).optional().describe('ISO-8601 with a zone, or epoch milliseconds; default: when received.'),
    category: z.enum(CATEGORIES).optional(),
    tenant_id: z.string().min(1).max(TENANT_MAX).regex(TENANT_PATTERN).optional().describe("Default: the key's tenant, or `default`."),
    actor_id: text('actor_id').optional(),
    actor_type: text('actor_type').optional(),
    resource_type: text('resource_type').optional(),
    resource_id: text('resource_id').optional(),
    success: z.boolean().optional(),
    error_message: text('error_message').optional(),
    description: text('description').optional(),
    ip_address: z.string().max(64).optional().describe('IPv4 or IPv6; stored normalized (and truncated when configured).'),
    user_agent: text('user_agent').optional(),
    session_id: text('session_id').optional(),
    request_id: text('request_id').optional(),
    client_id: text('client_id').optional(),
    metadata: z.record(z.string(), z.unknown()).optional().describe(`Any JSON object up to ${METADATA_MAX_BYTES} bytes and ${METADATA_MAX_DEPTH} levels deep; secrets are redacted by key.`),
  })
  .meta({ id: 'EventInput', examples: [{ action: 'user.login', actor_id: 'u-42', tenant_id: 'acme', success: true, metadata: { method: 'password' } }] })

const nullableText = z.string().nullable()

/** One stored event as every read returns it: every field present, null when absent. */
export const EventSchema = z
  .looseObject({
    id: z.string(),
    tenant_id: z.string(),
    action: z.string(),
    category: z.enum(CATEGORIES),
    occurred_at: z.string().describe('ISO-8601 UTC with milliseconds.'),
    received_at: z.string(),
    actor_id: nullableText,
    actor_type: nullableText,
    resource_type: nullableText,
    resource_id: nullableText,
    success: z.boolean(),
    error_message: nullableText,
    description: nullableText,
    ip_address: nullableText,
    user_agent: nullableText,
    session_id: nullableText,
    request_id: nullableText,
    client_id: nullableText,
    metadata: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event', description: 'Newer servers may add fields; clients should ignore ones they do not know.' })

export const EXAMPLE_EVENT = {
  id: '0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b',
  tenant_id: 'acme',
  action: 'user.login',
  category: 'info',
  occurred_at: '2026-11-23T09:00:00.123Z',
  received_at: '2026-11-23T09:00:00.125Z',
  actor_id: 'u-42',
  actor_type: null,
  resource_type: null,
  resource_id: null,
  success: true,
  error_message: null,
  description: null,
  ip_address: null,
  user_agent: null,
  session_id: null,
  request_id: null,
  client_id: null,
  metadata: { method: 'password' },
}

export const RejectedEventSchema = z
  .looseObject({ index: z.number().int().describe('Position in the request (line for NDJSON), from 0.'), errors: z.array(FieldErrorSchema) })
  .meta({ id: 'RejectedEvent' })
