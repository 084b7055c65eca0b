/** The contracts of GET /v1/events/:id/proof and GET /v1/completeness. */
import { z } from 'zod'
import type { RouteContract } from './contract.js'
import { EXAMPLE_EVENT, UUID_PATTERN } from './schemas.js'

const HEX64 = (n: string) => n.repeat(64 / n.length)

const CheckpointSchema = z
  .looseObject({
    tenant_id: z.string(),
    seq: z.number().int(),
    hash: z.string(),
    created_at: z.string(),
    cut: z.looseObject({}).nullable().describe('The retention cut in force when it was signed.'),
    tree: z.looseObject({ size: z.number().int(), root: z.string() }).nullable().optional().describe('The Merkle tree over the chain\'s first `size` events.'),
    key_id: z.string().describe('First 16 hex digits of SHA-256 over the signing public key.'),
    signature: z.string().describe('Ed25519, base64.'),
  })
  .meta({ id: 'Checkpoint', description: 'A signed statement: the tenant\'s chain had this hash at this seq (and this tree root).' })

const EventProofSchema = z
  .looseObject({
    tenant_id: z.string(),
    event_id: z.string(),
    seq: z.number().int(),
    leaf_index: z.number().int(),
    chain_format: z.union([z.literal(1), z.literal(2)]),
    canonical: z.string().describe('The canonical form tag the leaf was hashed from.'),
    prev_hash: z.string(),
    hash: z.string(),
    tree_size: z.number().int(),
    proof: z.array(z.string()).describe('The audit path (hex hashes), leaf to root.'),
    checkpoint: CheckpointSchema,
  })
  .meta({ id: 'EventProof' })

export const PROOF_CONTRACT: RouteContract = {
  method: 'GET',
  url: '/v1/events/:id/proof',
  operationId: 'getEventProof',
  summary: "An event's Merkle inclusion proof to its tenant's newest signed tree",
  description: 'Verify offline with `auditq verify-bundle` or the standalone verifier (docs/proofs.md). 409 AUDITQ_NOT_PROVABLE until a checkpoint with a tree covers the event.',
  tags: ['integrity'],
  access: 'read',
  params: z.strictObject({ id: z.string().regex(UUID_PATTERN, { error: 'must be a UUID' }).describe('The event id.') }),
  rules: { id: 'uuid' },
  responses: {
    200: {
      description: 'The proof and the checkpoint it leads to.',
      content: {
        'application/json': {
          schema: EventProofSchema,
          examples: {
            proof: {
              value: {
                tenant_id: 'acme',
                event_id: EXAMPLE_EVENT.id,
                seq: 3,
                leaf_index: 2,
                chain_format: 2,
                canonical: 'v2',
                prev_hash: HEX64('a1'),
                hash: HEX64('b2'),
                tree_size: 4,
                proof: [HEX64('c3'), HEX64('d4')],
                checkpoint: { tenant_id: 'acme', seq: 4, hash: HEX64('e5'), created_at: '2026-11-23T10:00:00.000Z', cut: null, tree: { size: 4, root: HEX64('f6') }, key_id: '0123456789abcdef', signature: 'c2lnbmF0dXJl' },
              },
            },
          },
        },
      },
    },
  },
  errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_NOT_PROVABLE', 'AUDITQ_STORE_UNAVAILABLE'],
}

const PRODUCER_MESSAGE = 'producer_id must be a producer id (letters, digits and . _ : -, at most 100)'
const SINCE_MESSAGE = 'since must be a time such as 2026-06-01T00:00:00Z'

const GapSchema = z.looseObject({ from: z.number().int(), to: z.number().int(), state: z.enum(['missing', 'in_flight']), issued_by: z.string() })

const CompletenessReportSchema = z
  .looseObject({
    checked_at: z.string(),
    in_flight_bound_ms: z.number().int(),
    missing_events: z.number().int().describe('Sequence numbers reported missing, over every producer listed.'),
    producers: z.array(
      z.looseObject({
        producer_id: z.string(),
        stored: z.number().int(),
        rejected: z.number().int(),
        rejected_ranges: z.array(z.looseObject({ from: z.number().int(), to: z.number().int(), rule: z.string() })),
        dead_lettered: z.number().int().describe('Numbers waiting in the dead-letter queue (the store refused their content); stored again once replayed.'),
        dead_lettered_ranges: z.array(z.looseObject({ from: z.number().int(), to: z.number().int(), rule: z.string().describe("The store's error.") })),
        purged: z.number().int().describe('Numbers whose dead letters `auditq dlq purge` deleted for good: accounted for and discarded, not missing.'),
        purged_ranges: z.array(z.looseObject({ from: z.number().int(), to: z.number().int(), rule: z.string().describe('The error that dead-lettered them.') })),
        last_stored_seq: z.number().int(),
        head: z.looseObject({ last_seq: z.number().int(), recorded_at: z.string(), final: z.boolean(), unsettled: z.number().int() }).nullable(),
        missing: z.array(GapSchema),
        in_flight: z.array(GapSchema),
      }),
    ),
  })
  .meta({ id: 'CompletenessReport' })

export const COMPLETENESS_CONTRACT: RouteContract = {
  method: 'GET',
  url: '/v1/completeness',
  operationId: 'checkCompleteness',
  summary: 'Per producer, the sequence numbers neither stored nor accounted for',
  description:
    '`missing` gaps are older than the in-flight bound; newer ones are `in_flight`. A key bound to a tenant sees its own tenant\'s events only: the producers that write only its tenant (a producer writing several tenants is checked only by an unbound key). Other parameters are ignored.',
  tags: ['integrity'],
  access: 'read',
  // Loose, as the route has always been: parameters it does not know are ignored.
  query: z.looseObject({
    tenant_id: z.string().describe('Only this tenant (a key bound to a tenant checks its own).').optional(),
    producer_id: z.string().regex(/^(|[A-Za-z0-9._:-]{1,100})$/, { error: PRODUCER_MESSAGE }).describe('Only this producer.').optional(),
    since: z
      .string()
      .refine((value) => value === '' || !Number.isNaN(Date.parse(value)), { error: SINCE_MESSAGE })
      .describe('Only sequence numbers issued at or after this time (ISO-8601).')
      .optional(),
  }),
  rules: { producer_id: 'pattern', since: 'timestamp' },
  responses: {
    200: {
      description: 'The check.',
      content: {
        'application/json': {
          schema: CompletenessReportSchema,
          examples: {
            gap: {
              value: {
                checked_at: '2026-11-23T10:00:00.000Z',
                in_flight_bound_ms: 300000,
                missing_events: 2,
                producers: [
                  {
                    producer_id: 'mobile-7',
                    stored: 40,
                    rejected: 1,
                    rejected_ranges: [{ from: 12, to: 12, rule: 'max_length' }],
                    dead_lettered: 0,
                    dead_lettered_ranges: [],
                    purged: 0,
                    purged_ranges: [],
                    last_stored_seq: 43,
                    head: { last_seq: 43, recorded_at: '2026-11-23T09:59:00.000Z', final: false, unsettled: 0 },
                    missing: [{ from: 20, to: 21, state: 'missing', issued_by: '2026-11-23T09:00:00.000Z' }],
                    in_flight: [],
                  },
                ],
              },
            },
          },
        },
      },
    },
  },
  errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_STORE_UNAVAILABLE'],
}
