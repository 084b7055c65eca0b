/** The contracts of GET /v1/integrity and GET /v1/reports. */
import { z } from 'zod'
import { PERIOD_KINDS } from '../../report/period.js'
import type { RouteContract } from './contract.js'
import { boundedInteger, filterText, INSTANT_PATTERN } from './params.js'

const seq = (field: string, description: string) =>
  z.string().regex(/^0*[1-9]\d{0,14}$/, { error: `${field} must be a sequence number (a positive integer)` }).describe(description).optional()

const VerifyReportSchema = z
  .looseObject({
    intact: z.boolean().describe('False when any chain is broken; `first_break` then says where.'),
    snapshot: z.string(),
    events: z.number().int(),
    tenants: z.array(z.looseObject({ tenant_id: z.string() })),
    checkpoints_checked: z.number().int(),
    first_break: z.looseObject({}).optional(),
  })
  .meta({ id: 'VerifyReport' })

const CountedSchema = z.looseObject({ value: z.string().nullable(), count: z.number().int() })

const ReportSchema = z
  .looseObject({
    period: z.looseObject({ kind: z.string(), from: z.string(), to: z.string() }),
    tenant_id: z.string().nullable(),
    generated_at: z.string(),
    complete: z.boolean(),
    top_n: z.number().int(),
    summary: z.looseObject({ total: z.number().int(), successes: z.number().int(), failures: z.number().int(), success_rate: z.number().nullable() }),
    by_category: z.record(z.string(), z.number().int()),
    top_actors: z.array(CountedSchema),
    top_actions: z.array(CountedSchema),
    top_resource_types: z.array(CountedSchema),
    failures_by_action: z.array(z.looseObject({})),
    timeline: z.array(z.looseObject({})),
  })
  .meta({ id: 'Report' })

export function integrityContract(): RouteContract {
  return {
      method: 'GET',
      url: '/v1/integrity',
      operationId: 'verifyIntegrity',
      summary: 'Recompute the hash chain(s) in one snapshot',
      description: 'Always 200 when the check ran: `intact: false` with `first_break` is the answer, not an error. One run per tenant at a time.',
      tags: ['integrity'],
      access: 'read',
      query: z.looseObject({
        tenant_id: z.string().describe("Only this tenant's chain (a key bound to a tenant checks its own).").optional(),
        from: seq('from', 'First sequence number to check.'),
        to: seq('to', 'Last sequence number to check.'),
      }),
      rules: { from: 'seq', to: 'seq' },
      responses: {
        200: {
          description: 'The verdict.',
          content: { 'application/json': { schema: VerifyReportSchema, examples: { intact: { value: { intact: true, snapshot: 'one REPEATABLE READ READ ONLY transaction', events: 2, tenants: [{ tenant_id: 'acme', events: 2, intact: true }], checkpoints_checked: 0 } } } } },
        },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_NOT_FOUND', 'AUDITQ_BUSY', 'AUDITQ_STORE_UNAVAILABLE'],
  }
}

export function reportsContract(options: { maxTopN: number }): RouteContract {
  return {
      method: 'GET',
      url: '/v1/reports',
      operationId: 'getReport',
      summary: 'An activity report for a period',
      description: 'Give `period` (and optionally `date`), or both `from` and `to`; never a mix. `format=csv|html` answer text/csv or text/html.',
      tags: ['reports'],
      access: 'read',
      query: z.strictObject({
        period: z.enum(PERIOD_KINDS, { error: `must be one of ${PERIOD_KINDS.join(', ')}` }).optional(),
        date: z.string().describe('YYYY-MM-DD inside the period (default: the current one).').optional(),
        from: z.string().regex(INSTANT_PATTERN, { error: 'must be an ISO-8601 time with a zone (e.g. 2026-01-31T00:00:00Z), a date, or epoch milliseconds, between 1970 and 9999' }).optional(),
        to: z.string().regex(INSTANT_PATTERN, { error: 'must be an ISO-8601 time with a zone (e.g. 2026-01-31T00:00:00Z), a date, or epoch milliseconds, between 1970 and 9999' }).optional(),
        tenant_id: filterText('Only this tenant.'),
        top: boundedInteger(options.maxTopN, `must be an integer from 1 to ${options.maxTopN}`, 'Length of the top lists.'),
        format: z.enum(['json', 'csv', 'html'], { error: 'must be one of json, csv, html' }).optional(),
      }),
      rules: { period: 'enum', from: 'timestamp', to: 'timestamp', tenant_id: 'length', top: 'range', format: 'enum' },
      responses: {
        200: {
          description: 'The report.',
          content: {
            'application/json': {
              schema: ReportSchema,
              examples: {
                daily: {
                  value: {
                    period: { kind: 'daily', from: '2026-11-23T00:00:00.000Z', to: '2026-11-24T00:00:00.000Z' },
                    tenant_id: 'acme',
                    generated_at: '2026-11-24T08:00:00.000Z',
                    complete: true,
                    top_n: 10,
                    summary: { total: 2, successes: 2, failures: 0, success_rate: 1 },
                    by_category: { info: 2, warning: 0, critical: 0 },
                    top_actors: [{ value: 'u-42', count: 2 }],
                    top_actions: [{ value: 'user.login', count: 2 }],
                    top_resource_types: [{ value: null, count: 2 }],
                    failures_by_action: [],
                    timeline: [],
                  },
                },
              },
            },
            'text/csv': { schema: z.string() },
            'text/html': { schema: z.string() },
          },
        },
      },
      errors: ['AUDITQ_BAD_REQUEST', 'AUDITQ_FORBIDDEN', 'AUDITQ_BUSY', 'AUDITQ_STORE_UNAVAILABLE'],
  }
}
