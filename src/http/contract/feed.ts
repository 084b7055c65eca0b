/** The contracts of GET /v1/feed (pages, long-poll) and GET /v1/feed/stream (Server-Sent Events). */
import { z } from 'zod'
import { FEED_FORMATS } from '../../feed/format.js'
import type { RouteContract } from './contract.js'
import { EventSchema, EXAMPLE_EVENT } from './schemas.js'

/** An integer min..max as the feed has always read it (at most six digits), the value seen quoted. */
const integerBetween = (min: number, max: number, description: string) => {
  const error = (issue: { input?: unknown }) => `must be an integer from ${min} to ${max}; got ${JSON.stringify(String(issue.input).slice(0, 20))}`
  return z
    .string()
    .regex(/^\d{1,6}$/, { error })
    .refine((value) => Number(value) >= min && Number(value) <= max, { error })
    .describe(description)
    .optional()
}

const FORMAT = z.enum(FEED_FORMATS as [string, ...string[]], { error: `must be one of ${FEED_FORMATS.join(', ')}` }).describe('`json` (FeedEvent) or `ocsf` (OCSF API Activity, the cursor in `unmapped.auditq.cursor`).').optional()
const TENANT = z.string().describe("Only this tenant. A key bound to a tenant reads its own; a key with the admin scope may leave it out (every tenant but `auditq`'s own access trail, which it reads by naming its tenant) or name any one.").optional()
const AFTER = z.string().describe('A cursor (`next`, or an event\'s `cursor`): start just after it. Omitted: from the beginning. A cursor of another tenant (or of the all-tenants feed) is refused.').optional()

// The feed has always reported an unknown parameter as `unknown`; its clients read that.
const UNKNOWN_PARAMETER = { rule: 'unknown', message: (known: readonly string[]) => `is not a parameter of this endpoint (${known.join(', ')})` }

const FeedEventSchema = z
  .looseObject({
    event: EventSchema,
    seq: z.number().int().describe("The tenant's chain sequence number (1, 2, 3 …, no gaps per tenant)."),
    hash: z.string().describe("The event's chain hash (hex)."),
    cursor: z.string().describe('Opaque cursor positioned just after this event.'),
  })
  .meta({ id: 'FeedEvent' })

const FeedPageSchema = z
  .looseObject({
    events: z.array(z.union([FeedEventSchema, z.looseObject({}).describe('An OCSF API Activity object (format=ocsf).')])),
    next: z.string().describe('Pass as `after` for the next page; also on an empty page, so a poller never reads a position twice.'),
  })
  .meta({ id: 'FeedPage' })

const EXAMPLE_CURSOR = 'eyJ0IjoiYWNtZSIsInMiOjF9'

export function feedContracts(options: { maxLimit: number; defaultLimit: number; maxWaitSeconds: number }): { page: RouteContract; stream: RouteContract } {
  return {
    page: {
      method: 'GET',
      url: '/v1/feed',
      operationId: 'readFeed',
      summary: 'Stored events in store order, each exactly once (a page, or a long-poll with `wait`)',
      description: 'Resume from `next`. With `wait`, an empty answer is held up to that many seconds until events arrive. See docs/feed.md.',
      tags: ['feed'],
      access: 'read',
      query: z.strictObject({
        tenant_id: TENANT,
        limit: integerBetween(1, options.maxLimit, `Events per page (default ${options.defaultLimit}).`),
        wait: integerBetween(0, options.maxWaitSeconds, 'Seconds to wait for events when there are none yet (default 0).'),
        format: FORMAT,
        after: AFTER,
      }),
      rules: { limit: 'range', wait: 'range', format: 'enum' },
      unknownParameter: UNKNOWN_PARAMETER,
      responses: {
        200: {
          description: 'One page; `next` positions after its last event.',
          content: {
            'application/json': {
              schema: FeedPageSchema,
              examples: { page: { value: { events: [{ event: EXAMPLE_EVENT, seq: 1, hash: '9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f', cursor: EXAMPLE_CURSOR }], next: EXAMPLE_CURSOR } } },
            },
          },
        },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_STORE_UNAVAILABLE'],
    },
    stream: {
      method: 'GET',
      url: '/v1/feed/stream',
      operationId: 'streamFeed',
      summary: 'The feed as Server-Sent Events',
      description:
        'Each event is an SSE `audit` event whose `id` is its cursor and whose `data` is the FeedEvent (or OCSF object). ' +
        'An EventSource reconnects with `Last-Event-ID`, read as `after` when `after` is not given. Idle comments keep the connection open; ' +
        'an error after the answer started ends the stream with an `error` event `{"code": …}`.',
      tags: ['feed'],
      access: 'read',
      query: z.strictObject({ tenant_id: TENANT, format: FORMAT, after: AFTER }),
      rules: { format: 'enum' },
      unknownParameter: UNKNOWN_PARAMETER,
      responses: {
        200: {
          description: 'The stream, open until the client leaves.',
          content: {
            'text/event-stream': {
              schema: z.string().describe('`id: <cursor>`, `event: audit`, `data: <JSON>` per event.'),
              examples: { one: { value: `: auditq feed\n\nid: ${EXAMPLE_CURSOR}\nevent: audit\ndata: {"event":{"id":"${EXAMPLE_EVENT.id}"},"seq":1}\n\n` } },
            },
          },
        },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_STORE_UNAVAILABLE'],
    },
  }
}
