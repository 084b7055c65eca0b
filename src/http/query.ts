import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import type { AuditEvent, FieldError } from '../event/types.js'
import { csvHeader, csvRow } from '../query/csv.js'
import { badRequest, parseEventFilter, single } from '../query/filter.js'
import { parseSearch } from '../query/search/syntax.js'
import { decodeCursor, encodeCursor } from '../store/cursor.js'
import type { EventFilter } from '../query/event-filter.js'
import type { Store } from '../store/store.js'
import { BusyGate } from './busy-gate.js'
import { tenantScope } from './principal.js'
import { sendBundle } from './proofs.js'
import { documented } from './contract/contract.js'
import { queryContracts } from './contract/events.js'

export interface QueryOptions {
  store: Store
  defaultLimit: number
  maxLimit: number
  exports: Pick<Config['reads'], 'exportMaxConcurrent' | 'exportMaxPerTenant' | 'exportIdleTimeoutMs'>
}

const EXPORT_BUSY_RETRY_SECONDS = 5

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** GET /v1/events (keyset pages), GET /v1/events/export (streamed), GET /v1/events/:id. */
export async function queryRoutes(app: FastifyInstance, options: QueryOptions): Promise<void> {
  const { store } = options
  // An export holds a read connection and a snapshot for as long as it streams: bounded per
  // tenant and per process, so exports cannot take every read connection (BusyGate).
  const exportGate = new BusyGate({
    what: 'export',
    perTenant: options.exports.exportMaxPerTenant,
    global: options.exports.exportMaxConcurrent,
    retryAfterSeconds: EXPORT_BUSY_RETRY_SECONDS,
  })
  const idleMs = options.exports.exportIdleTimeoutMs
  const contracts = queryContracts({ maxLimit: options.maxLimit })

  app.get(contracts.list.url, documented(contracts.list, { trail: 'query' }), async (request) => {
    const raw = request.query as Record<string, unknown>
    const filter = withSearch(bounded(request, parseEventFilter(raw, ['limit', 'cursor', 'q'])), raw)
    const errors: FieldError[] = []
    const limit = parseLimit(single(raw, 'limit', errors), options, errors)
    const cursor = single(raw, 'cursor', errors)
    if (errors.length > 0) throw badRequest(errors)
    const page = await store.query(filter, { limit, ...(cursor ? { after: decodeCursor(cursor) } : {}) })
    return { events: page.events, next_cursor: page.next ? encodeCursor(page.next) : null }
  })

  app.get(contracts.export.url, documented(contracts.export, { trail: 'export' }), async (request, reply) => {
    const raw = request.query as Record<string, unknown>
    const filter = withSearch(bounded(request, parseEventFilter(raw, ['format', 'proof', 'q'])), raw)
    const errors: FieldError[] = []
    const format = single(raw, 'format', errors) ?? 'ndjson'
    if (format !== 'ndjson' && format !== 'csv') {
      errors.push({ field: 'format', rule: 'enum', message: 'must be ndjson or csv' })
    }
    const proof = single(raw, 'proof', errors)
    if (proof !== undefined && proof !== 'true' && proof !== 'false') errors.push({ field: 'proof', rule: 'enum', message: 'must be true or false' })
    if (proof === 'true' && format !== 'ndjson') errors.push({ field: 'proof', rule: 'format', message: 'a proof bundle is NDJSON; leave out format=csv' })
    if (errors.length > 0) throw badRequest(errors)
    const freeSlot = exportGate.acquire(reply, filter.tenant_id)
    if (proof === 'true') return sendBundle(request, reply, store, filter, freeSlot)
    // The generator opens nothing until its first next(): the connection is taken there.
    const events = store.stream(filter)[Symbol.asyncIterator]()
    // A client that keeps its connection open but stops reading (its socket full) would hold the
    // cursor, the snapshot and a read connection for as long as it likes. The clock runs only
    // while a line waits for the client to take it, never while the store is fetching.
    let idle: NodeJS.Timeout | undefined
    const waitForClient = () => {
      idle = setTimeout(() => {
        request.log.warn({ idle_ms: idleMs }, 'export aborted: the client read nothing for the idle timeout')
        reply.raw.destroy()
      }, idleMs)
    }
    // However the response ends (done, client gone or idle, write error), close the store's
    // cursor and free the export's slot. Listening before the first fetch also covers a client
    // that leaves while it runs: the body below would then never start, nor its finally.
    const release = () => {
      clearTimeout(idle)
      freeSlot()
      void events.return?.(undefined).catch(() => undefined)
    }
    reply.raw.once('close', release)
    if (request.raw.socket?.destroyed) release()
    // Read the first event before answering: a store failure then becomes a clean error response
    // instead of a 200 whose body stops after the CSV header.
    let first: IteratorResult<AuditEvent>
    try {
      first = await events.next()
    } catch (error) {
      release()
      throw error
    }
    const line = (event: AuditEvent) => (format === 'csv' ? csvRow(event) : JSON.stringify(event) + '\n')
    async function* lines(): AsyncGenerator<string> {
      try {
        if (format === 'csv') yield csvHeader()
        if (first.done) return
        waitForClient()
        yield line(first.value)
        clearTimeout(idle)
        for (let next = await events.next(); !next.done; next = await events.next()) {
          waitForClient()
          yield line(next.value)
          clearTimeout(idle)
        }
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

  app.get<{ Params: { id: string } }>(contracts.get.url, documented(contracts.get, { trail: 'query' }), async (request) => {
    const { id } = request.params
    if (!UUID.test(id)) throw badRequest([{ field: 'id', rule: 'uuid', message: 'must be a UUID' }])
    const tenant = tenantScope(request)
    const event = await store.getById(id.toLowerCase(), tenant === undefined ? {} : { tenant_id: tenant })
    if (!event) throw new AuditqError('AUDITQ_NOT_FOUND', `no event with id ${id}`)
    return event
  })
}

/** `q`, word search (src/query/search/syntax.ts); the contract has already checked it is one string. */
export function withSearch(filter: EventFilter, raw: Record<string, unknown>): EventFilter {
  return typeof raw.q === 'string' ? { ...filter, search: parseSearch(raw.q) } : filter
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
