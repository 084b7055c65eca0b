/** The contracts of POST /v1/events, GET /v1/events, GET /v1/events/export and GET /v1/events/:id. */
import { z } from 'zod'
import { type RouteContract } from './contract.js'
import { boundedInteger, eventFilterShape, FILTER_RULES } from './params.js'
import { MAX_QUERY_CHARS } from '../../query/search/syntax.js'
import { EventInputSchema, EventSchema, EXAMPLE_EVENT, RejectedEventSchema, UUID_PATTERN } from './schemas.js'


const IngestBodySchema = z
  .union([EventInputSchema, z.array(EventInputSchema), z.strictObject({ events: z.array(EventInputSchema) })])
  .meta({ id: 'IngestBody', description: 'One event, a bare array of events, or `{"events": [...]}`.' })

const IngestResultSchema = z
  .looseObject({
    accepted: z.number().int().describe('How many were stored (or queued, in queue mode).'),
    ids: z.array(z.string()).describe('The ids of the accepted events, in request order.'),
    rejected: z.array(RejectedEventSchema).describe('Each refused event, by index, with every field error.'),
  })
  .meta({ id: 'IngestResult' })

const EventPageSchema = z
  .looseObject({
    events: z.array(EventSchema),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'EventPage' })

/** Word search; its syntax is checked by parseSearch (errors name `q`, rule `search_syntax`). */
export const SEARCH_PARAM = z
  .string()
  .min(1, { error: `must be 1–${MAX_QUERY_CHARS} characters` })
  .max(MAX_QUERY_CHARS, { error: `must be 1–${MAX_QUERY_CHARS} characters` })
  .describe('Word search over action, description, actor and resource names and ids, and metadata values: words (all must match), "quoted phrases", -word or -"phrase" to exclude. Case-insensitive; punctuation separates words.')
  .optional()

export function ingestContract(options: { maxEventsPerRequest: number }): RouteContract {
  return {
      method: 'POST',
      url: '/v1/events',
      operationId: 'logEvents',
      summary: 'Log events',
      description:
        `Stores each valid event and reports each invalid one by index; 400 only when none is valid. Up to ${options.maxEventsPerRequest} events per request. ` +
        'NDJSON (`application/x-ndjson`, one event per line) is accepted too.',
      tags: ['events'],
      access: 'ingest',
      body: {
        validation: 'per-item',
        content: {
          'application/json': {
            schema: IngestBodySchema,
            examples: {
              one: { summary: 'One event', value: { action: 'user.login', actor_id: 'u-42', tenant_id: 'acme', success: true, metadata: { method: 'password' } } },
              batch: {
                summary: 'Several events',
                value: {
                  events: [
                    { action: 'invoice.create', actor_id: 'u-42', tenant_id: 'acme', resource_type: 'invoice', resource_id: 'inv-1001' },
                    { action: 'invoice.send', actor_id: 'u-42', tenant_id: 'acme', resource_type: 'invoice', resource_id: 'inv-1001', category: 'warning' },
                  ],
                },
              },
            },
          },
          'application/x-ndjson': { schema: z.string().describe('One JSON event per line.') },
        },
      },
      responses: {
        202: {
          description: 'At least one event was accepted.',
          content: { 'application/json': { schema: IngestResultSchema, examples: { accepted: { value: { accepted: 1, ids: [EXAMPLE_EVENT.id], rejected: [] } } } } },
        },
      },
      errors: ['AUDITQ_VALIDATION', 'AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_TOO_MANY_EVENTS', 'AUDITQ_BODY_TOO_LARGE', 'AUDITQ_UNSUPPORTED_MEDIA_TYPE', 'AUDITQ_STORE_UNAVAILABLE', 'AUDITQ_QUEUE_FULL', 'AUDITQ_QUEUE_UNAVAILABLE', 'AUDITQ_CLOSED'],
  }
}

export function queryContracts(options: { maxLimit: number }): { list: RouteContract; export: RouteContract; get: RouteContract } {
  const limitMessage = `must be an integer from 1 to ${options.maxLimit}`
  return {
    list: {
      method: 'GET',
      url: '/v1/events',
      operationId: 'listEvents',
      summary: 'Query events, newest first, in keyset pages',
      tags: ['events'],
      access: 'read',
      query: z.strictObject({
        ...eventFilterShape,
        limit: boundedInteger(options.maxLimit, limitMessage, 'Events per page.'),
        cursor: z.string().describe('`next_cursor` of the previous page.').optional(),
        q: SEARCH_PARAM,
      }),
      rules: { ...FILTER_RULES, limit: 'range' },
      responses: {
        200: { description: 'One page.', content: { 'application/json': { schema: EventPageSchema, examples: { page: { value: { events: [EXAMPLE_EVENT], next_cursor: null } } } } } },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_STORE_UNAVAILABLE'],
    },
    export: {
      method: 'GET',
      url: '/v1/events/export',
      operationId: 'exportEvents',
      summary: 'Stream every matching event as NDJSON or CSV',
      tags: ['events'],
      access: 'read',
      description: '`proof=true` answers a proof bundle instead (NDJSON: a header, each event with its Merkle inclusion proof, the signed checkpoints, an end line) for `auditq verify-bundle` or the standalone verifier; it cannot be combined with `format=csv`.',
      query: z.strictObject({
        ...eventFilterShape,
        format: z.enum(['ndjson', 'csv'], { error: 'must be ndjson or csv' }).optional(),
        q: SEARCH_PARAM,
        proof: z
          .enum(['true', 'false'], { error: 'must be true or false' })
          .describe('`true`: a proof bundle (NDJSON, format `auditq.bundle.v1`, docs/integrity.md): each event with its Merkle inclusion proof and the signed checkpoints, checkable offline.')
          .optional(),
      }),
      rules: { ...FILTER_RULES, format: 'enum', proof: 'enum' },
      responses: {
        200: {
          description: 'The events, streamed.',
          headers: { 'Content-Disposition': 'attachment; filename="auditq-export-<time>.<format>"' },
          content: {
            'application/x-ndjson': { schema: z.string().describe('One Event (JSON) per line; with `proof=true`, the proof bundle (`auditq.bundle.v1`).'), examples: { ndjson: { value: JSON.stringify(EXAMPLE_EVENT) + '\n' } } },
            'text/csv': { schema: z.string().describe('A header row, then one row per event.') },
          },
        },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_BUSY', 'AUDITQ_STORE_UNAVAILABLE'],
    },
    get: {
      method: 'GET',
      url: '/v1/events/:id',
      operationId: 'getEvent',
      summary: 'One event by id',
      tags: ['events'],
      access: 'read',
      params: z.strictObject({ id: z.string().regex(UUID_PATTERN, { error: 'must be a UUID' }).describe('The event id.') }),
      rules: { id: 'uuid' },
      responses: { 200: { description: 'The event.', content: { 'application/json': { schema: EventSchema, examples: { event: { value: EXAMPLE_EVENT } } } } } },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_STORE_UNAVAILABLE'],
    },
  }
}
