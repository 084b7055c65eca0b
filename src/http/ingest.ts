import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AuditqError } from '../errors.js'
import type { RejectedEvent } from '../event/intake.js'
import type { FieldError } from '../event/types.js'
import type { AuditLogger } from '../sdk/audit-logger.js'
import { NdjsonBody } from './ndjson.js'
import { documented } from './contract/contract.js'
import { ingestContract } from './contract/events.js'

export interface IngestOptions {
  audit: AuditLogger
  maxEventsPerRequest: number
}

/** What POST /v1/events parses (src/http/ndjson.ts registers the second). */
const ACCEPTED_MEDIA_TYPES: readonly string[] = ['application/json', 'application/x-ndjson']

interface Candidates {
  /** Values to validate, with the index each had in the request. */
  values: { index: number; value: unknown }[]
  /** Entries refused before validation (NDJSON lines that were not JSON). */
  refused: RejectedEvent[]
  total: number
}

/**
 * POST /v1/events — one event, `{"events": [...]}`, a bare array, or NDJSON. Valid events are
 * stored and answered with 202 and their ids; each invalid one is reported by index with every
 * field error; 400 only when none is valid.
 */
export async function ingestRoutes(app: FastifyInstance, options: IngestOptions): Promise<void> {
  // Checked before the body is parsed: fastify would otherwise read text/plain as a JSON string
  // (a confusing 400 "not a JSON object") and answer a missing type with a bare "Unsupported Media
  // Type" that does not say what to send. Runs after access control, so a caller without a key
  // still learns nothing beyond 401.
  const preParsing = async (request: FastifyRequest) => {
    const header = request.headers['content-type']
    const media = header?.split(';')[0]?.trim().toLowerCase()
    if (media === undefined || !ACCEPTED_MEDIA_TYPES.includes(media)) {
      const got = header === undefined || header.trim() === '' ? 'the request has no Content-Type' : `got ${JSON.stringify(header.slice(0, 100))}`
      throw new AuditqError('AUDITQ_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${ACCEPTED_MEDIA_TYPES.join(' or ')}; ${got}`)
    }
  }
  const contract = ingestContract({ maxEventsPerRequest: options.maxEventsPerRequest })
  app.post(contract.url, { ...documented(contract), preParsing }, async (request, reply) => {
    const candidates = collectCandidates(request.body)
    if (candidates.total === 0) {
      throw new AuditqError('AUDITQ_VALIDATION', 'the request holds no events', {
        details: { rejected: [] },
      })
    }
    if (candidates.total > options.maxEventsPerRequest) {
      throw new AuditqError(
        'AUDITQ_TOO_MANY_EVENTS',
        `the request holds ${candidates.total} events; the limit is ${options.maxEventsPerRequest} per request`,
      )
    }
    // A key's tenant is stamped on events that name none; an event naming another is refused by index.
    const boundTenant = request.principal.tenantId
    const result = await options.audit.logBulk(
      candidates.values.map((candidate) => candidate.value),
      boundTenant === null ? {} : { boundTenant },
    )
    const rejected = [
      ...candidates.refused,
      ...result.rejected.map((entry) => ({ ...entry, index: candidates.values[entry.index]!.index })),
    ].sort((a, b) => a.index - b.index)
    if (result.ids.length === 0) {
      throw new AuditqError('AUDITQ_VALIDATION', `no valid events: ${summarize(rejected)}`, { details: { rejected } })
    }
    return reply.status(202).send({ accepted: result.ids.length, ids: result.ids, rejected })
  })
}

function collectCandidates(body: unknown): Candidates {
  if (body instanceof NdjsonBody) {
    const values: Candidates['values'] = []
    const refused: RejectedEvent[] = []
    body.lines.forEach((line, index) => {
      if (line.ok) values.push({ index, value: line.value })
      else refused.push({ index, errors: line.errors })
    })
    return { values, refused, total: body.lines.length }
  }
  const list = Array.isArray(body)
    ? body
    : isEnvelope(body)
      ? body.events
      : body === undefined || body === null
        ? []
        : [body]
  return { values: list.map((value, index) => ({ index, value })), refused: [], total: list.length }
}

function isEnvelope(body: unknown): body is { events: unknown[] } {
  return (
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { events?: unknown }).events) &&
    Object.keys(body).length === 1
  )
}

function summarize(rejected: RejectedEvent[]): string {
  const first = rejected.slice(0, 3).map((entry) => {
    const fields = entry.errors.map((e: FieldError) => `${e.field} (${e.rule}): ${e.message}`).join(', ')
    return rejected.length === 1 ? fields : `[${entry.index}] ${fields}`
  })
  return first.join('; ') + (rejected.length > 3 ? `; and ${rejected.length - 3} more` : '')
}
