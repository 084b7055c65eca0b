/**
 * The contracts of the stream API (docs/streaming.md): list, create, show, delete, pause, resume
 * and replay streams. The create body is checked by the stream domain's own parser (shared with
 * the CLI, answering AUDITQ_STREAM_INVALID), whose zod schema is also the documented one.
 */
import { z } from 'zod'
import { SINK_KINDS, STREAM_FORMATS } from '../../stream/definition.js'
import { streamBodySchema } from '../../stream/parse.js'
import type { RouteContract } from './contract.js'

const EXAMPLE_NAME = 'acme-siem'

const StreamSchema = z
  .looseObject({
    name: z.string(),
    owner_tenant: z.string().nullable().describe('The tenant whose events alone it sees; null: an admin stream over every tenant.'),
    sink: z.looseObject({ kind: z.enum(SINK_KINDS), url: z.string(), options: z.record(z.string(), z.string()).describe('Secrets are shown as `********`.') }),
    filter: z.looseObject({ tenants: z.array(z.string()), actions: z.array(z.string()), categories: z.array(z.string()), from: z.string().optional() }),
    format: z.enum(STREAM_FORMATS),
    batch_size: z.number().int(),
    state: z.enum(['active', 'paused', 'parked']),
    position: z.string().nullable().describe('Feed cursor after the last acknowledged event; null: nothing delivered yet.'),
    delivered: z.number().int(),
    last_error: z.string().nullable(),
    failing_since: z.string().nullable(),
    delivered_through: z.string().nullable(),
    replay_of: z.string().nullable().describe('For a replay: the live stream it backfills for.'),
    lease_owner: z.string().nullable(),
    lease_expires_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'Stream' })

const EXAMPLE_STREAM = {
  name: EXAMPLE_NAME,
  owner_tenant: 'acme',
  sink: { kind: 'webhook', url: 'https://siem.example.com/auditq', options: { secret: '********' } },
  filter: { tenants: [], actions: ['user.*'], categories: [] },
  format: 'json',
  batch_size: 500,
  state: 'active',
  position: null,
  delivered: 0,
  last_error: null,
  failing_since: null,
  delivered_through: null,
  replay_of: null,
  lease_owner: null,
  lease_expires_at: null,
  created_at: '2026-11-23T09:00:00.000Z',
}

const NAME_PARAMS = z.strictObject({ name: z.string().describe('The stream name.').meta({ examples: [EXAMPLE_NAME] }) })
const ONE = { 'application/json': { schema: StreamSchema, examples: { stream: { value: EXAMPLE_STREAM } } } }
const ERRORS: RouteContract['errors'] = ['AUDITQ_FORBIDDEN', 'AUDITQ_STORE_UNAVAILABLE']
const BODY_ERRORS: RouteContract['errors'] = ['AUDITQ_STREAM_INVALID', 'AUDITQ_BAD_REQUEST', 'AUDITQ_BODY_TOO_LARGE', 'AUDITQ_UNSUPPORTED_MEDIA_TYPE']
const SCOPE_NOTE = 'A key manages the streams of its own tenant; a key that also has `admin` manages every stream.'

const byName = (method: 'GET' | 'DELETE' | 'POST', url: string, operationId: string, summary: string, extra: Partial<RouteContract> = {}): RouteContract => ({
  method,
  url,
  operationId,
  summary,
  description: SCOPE_NOTE,
  tags: ['streams'],
  access: 'read',
  params: NAME_PARAMS,
  responses: { 200: { description: 'The stream.', content: ONE } },
  errors: [...ERRORS, 'AUDITQ_STREAM_NOT_FOUND'],
  ...extra,
})

export const STREAM_CONTRACTS: Record<'list' | 'create' | 'show' | 'remove' | 'pause' | 'resume' | 'replay', RouteContract> = {
  list: {
    method: 'GET',
    url: '/v1/streams',
    operationId: 'listStreams',
    summary: 'The streams the caller manages',
    description: SCOPE_NOTE,
    tags: ['streams'],
    access: 'read',
    responses: { 200: { description: 'The streams.', content: { 'application/json': { schema: z.looseObject({ streams: z.array(StreamSchema) }), examples: { streams: { value: { streams: [EXAMPLE_STREAM] } } } } } } },
    errors: ERRORS,
  },
  create: {
    method: 'POST',
    url: '/v1/streams',
    operationId: 'createStream',
    summary: 'Create a stream: matching events are delivered to a webhook, syslog receiver or archive',
    description: `${SCOPE_NOTE} A tenant's stream cannot target loopback, private or link-local receivers. Field errors are AUDITQ_STREAM_INVALID naming the field and rule.`,
    tags: ['streams'],
    access: 'read',
    body: {
      // The CLI creates streams with the same parser (src/stream/parse.ts).
      validation: 'route',
      content: {
        'application/json': {
          schema: streamBodySchema.meta({ id: 'StreamDefinition' }),
          examples: { webhook: { summary: 'Logins to a SIEM webhook', value: { name: EXAMPLE_NAME, sink: 'webhook', url: 'https://siem.example.com/auditq', actions: ['user.*'], options: { secret: 'shared-hmac-secret' } } } },
        },
      },
    },
    responses: { 201: { description: 'The stream, delivering from the start of the feed.', content: ONE } },
    errors: [...ERRORS, ...BODY_ERRORS, 'AUDITQ_STREAM_EXISTS'],
  },
  show: byName('GET', '/v1/streams/:name', 'getStream', 'One stream, with its position and health'),
  remove: byName('DELETE', '/v1/streams/:name', 'deleteStream', 'Delete a stream', { responses: { 204: { description: 'Deleted.' } } }),
  pause: byName('POST', '/v1/streams/:name/pause', 'pauseStream', 'Pause a stream (it keeps its position)'),
  resume: byName('POST', '/v1/streams/:name/resume', 'resumeStream', 'Resume a paused or parked stream'),
  replay: byName('POST', '/v1/streams/:name/replay', 'replayStream', 'Backfill a stream from a time or a feed cursor, as a replay stream beside it', {
    body: {
      validation: 'route',
      content: {
        'application/json': {
          schema: z.looseObject({
            from_time: z.string().optional().describe('ISO-8601: replay events that occurred from then on.'),
            from_cursor: z.string().optional().describe('A feed cursor: replay from just after it.'),
          }).describe('Exactly one of from_time and from_cursor.'),
          examples: { since: { value: { from_time: '2026-01-01T00:00:00Z' } } },
        },
      },
    },
    responses: { 201: { description: 'The replay stream; it ends once it has caught up.', content: ONE } },
    errors: [...ERRORS, ...BODY_ERRORS, 'AUDITQ_STREAM_NOT_FOUND', 'AUDITQ_STREAM_EXISTS'],
  }),
}
