import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import { AuditqError } from '../errors.js'
import type { AuditEvent, FieldError } from '../event/types.js'
import { csvHeader, csvRow } from '../query/csv.js'
import { badRequest, parseEventFilter, single } from '../query/filter.js'
import { decodeCursor, encodeCursor } from '../store/cursor.js'
import type { EventFilter, Store } from '../store/store.js'
import { tenantScope } from './principal.js'

export interface QueryOptions {
  store: Store
  defaultLimit: number
  maxLimit: number
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** GET /v1/events (keyset pages), GET /v1/events/export (streamed), GET /v1/events/:id. */
export async function queryRoutes(app: FastifyInstance, options: QueryOptions): Promise<void> {
  const { store } = options

  app.get('/v1/events', { config: { access: 'read' } }, async (request) => {
    const raw = request.query as Record<string, unknown>
    const filter = bounded(request, parseEventFilter(raw, ['limit', 'cursor']))
    const errors: FieldError[] = []
    const limit = parseLimit(single(raw, 'limit', errors), options, errors)
    const cursor = single(raw, 'cursor', errors)
    if (errors.length > 0) throw badRequest(errors)
    const page = await store.query(filter, { limit, ...(cursor ? { after: decodeCursor(cursor) } : {}) })
    return { events: page.events, next_cursor: page.next ? encodeCursor(page.next) : null }
  })

  app.get('/v1/events/export', { config: { access: 'read' } }, async (request, reply) => {
    const raw = request.query as Record<string, unknown>
    const filter = bounded(request, parseEventFilter(raw, ['format']))
    const errors: FieldError[] = []
    const format = single(raw, 'format', errors) ?? 'ndjson'
    if (format !== 'ndjson' && format !== 'csv') {
      errors.push({ field: 'format', rule: 'enum', message: 'must be ndjson or csv' })
    }
    if (errors.length > 0) throw badRequest(errors)
    // Read the first event before answering: a store failure then becomes a clean error response
    // instead of a 200 whose body stops after the CSV header.
    const events = store.stream(filter)[Symbol.asyncIterator]()
    const first = await events.next()
    const line = (event: AuditEvent) => (format === 'csv' ? csvRow(event) : JSON.stringify(event) + '\n')
    // However the response ends (done, client gone, write error), close the store's cursor.
    const release = () => void events.return?.(undefined).catch(() => undefined)
    reply.raw.once('close', release)
    async function* lines(): AsyncGenerator<string> {
      try {
        if (format === 'csv') yield csvHeader()
        if (first.done) return
        yield line(first.value)
        for (let next = await events.next(); !next.done; next = await events.next()) yield line(next.value)
      } finally {
        release()
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    return reply
      .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="auditq-export-${stamp}.${format}"`)
      .send(Readable.from(lines()))
  })

  app.get<{ Params: { id: string } }>('/v1/events/:id', { config: { access: 'read' } }, async (request) => {
    const { id } = request.params
    if (!UUID.test(id)) throw badRequest([{ field: 'id', rule: 'uuid', message: 'must be a UUID' }])
    const tenant = tenantScope(request)
    const event = await store.getById(id.toLowerCase(), tenant === undefined ? {} : { tenant_id: tenant })
    if (!event) throw new AuditqError('AUDITQ_NOT_FOUND', `no event with id ${id}`)
    return event
  })
}

/** Every read is bounded to the caller's tenant (see `tenantScope`). */
function bounded(request: FastifyRequest, filter: EventFilter): EventFilter {
  const tenant = tenantScope(request, filter.tenant_id)
  return tenant === undefined ? filter : { ...filter, tenant_id: tenant }
}

function parseLimit(value: string | undefined, options: QueryOptions, errors: FieldError[]): number {
  if (value === undefined) return options.defaultLimit
  const limit = /^\d{1,6}$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(limit) || limit < 1 || limit > options.maxLimit) {
    errors.push({ field: 'limit', rule: 'range', message: `must be an integer from 1 to ${options.maxLimit}; got ${JSON.stringify(value.slice(0, 20))}` })
    return options.defaultLimit
  }
  return limit
}
