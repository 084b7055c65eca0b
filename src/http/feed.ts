/**
 * GET /v1/feed (a page, or a long-poll with `wait`) and GET /v1/feed/stream (Server-Sent Events):
 * stored events in store order, each exactly once (docs/feed.md). Bound to the key's tenant; a key
 * that also holds the admin scope may read every tenant (no `tenant_id`) or name one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import type { FieldError } from '../event/types.js'
import { decodeFeedCursor } from '../feed/cursor.js'
import { startPosition, type FeedPosition, type FeedSource } from '../feed/feed-event.js'
import { FEED_FORMATS, formatFeedEvent, type FeedFormat } from '../feed/format.js'
import { DEFAULT_CLASS_TABLE, parseClassTable } from '../feed/ocsf/class-table.js'
import type { OcsfOptions } from '../feed/ocsf/map.js'
import { waitForFeedPage } from '../feed/read.js'
import { badRequest, single } from '../query/filter.js'
import type { Store } from '../store/store.js'
import { tenantScope } from './principal.js'
import { documented } from './contract/contract.js'
import { feedContracts } from './contract/feed.js'

export interface FeedRouteOptions {
  store: Store
  limits: Config['feed']
  /** Left out of the all-tenants feed (read it by naming it): see `SkipTenant`. */
  systemTenant: string
  productVersion?: string
}

/** How long an idle SSE connection waits before a keep-alive comment (proxies drop silent connections). */
const SSE_HEARTBEAT_MS = 15_000

export async function feedRoutes(app: FastifyInstance, options: FeedRouteOptions): Promise<void> {
  const { store, limits } = options
  const ocsf: OcsfOptions = {
    classTable: limits.ocsfClassMap === undefined ? DEFAULT_CLASS_TABLE : parseClassTable(limits.ocsfClassMap),
    ...(options.productVersion ? { productVersion: options.productVersion } : {}),
  }
  const feedOf = (): FeedSource => {
    if (!store.feed) throw new AuditqError('AUDITQ_NOT_FOUND', `the ${store.kind} store offers no feed`)
    return store.feed
  }

  const contracts = feedContracts(limits)

  app.get(contracts.page.url, documented(contracts.page, { trail: 'feed.read' }), async (request) => {
    const raw = request.query as Record<string, unknown>
    const errors: FieldError[] = []
    const tenant = feedTenant(request, single(raw, 'tenant_id', errors))
    const limit = parseBounded(single(raw, 'limit', errors), 'limit', { min: 1, max: limits.maxLimit, fallback: limits.defaultLimit }, errors)
    const wait = parseBounded(single(raw, 'wait', errors), 'wait', { min: 0, max: limits.maxWaitSeconds, fallback: 0 }, errors)
    const format = parseFormat(single(raw, 'format', errors), errors)
    const afterText = single(raw, 'after', errors)
    rejectUnknown(raw, ['tenant_id', 'limit', 'wait', 'format', 'after'], errors)
    if (errors.length > 0) throw badRequest(errors)
    const after = afterText === undefined ? startPosition(tenant) : decodeFeedCursor(afterText, tenant)
    const gone = new AbortController()
    request.raw.once('close', () => gone.abort())
    const page = await waitForFeedPage(feedOf(), after, limit, { waitMs: wait * 1000, pollMs: limits.pollMs, signal: gone.signal, skipTenant: options.systemTenant })
    return { events: page.events.map((item) => formatFeedEvent(item, format, ocsf)), next: page.next }
  })

  app.get(contracts.stream.url, documented(contracts.stream, { trail: 'feed.read' }), async (request, reply) => {
    const raw = request.query as Record<string, unknown>
    const errors: FieldError[] = []
    const tenant = feedTenant(request, single(raw, 'tenant_id', errors))
    const format = parseFormat(single(raw, 'format', errors), errors)
    // EventSource reconnects with the last id it saw: our cursor.
    const lastEventId = request.headers['last-event-id']
    const afterText = single(raw, 'after', errors) ?? (typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined)
    rejectUnknown(raw, ['tenant_id', 'format', 'after'], errors)
    if (errors.length > 0) throw badRequest(errors)
    let after: FeedPosition = afterText === undefined ? startPosition(tenant) : decodeFeedCursor(afterText, tenant)
    const feed = feedOf()
    const gone = new AbortController()
    reply.raw.once('close', () => gone.abort())
    reply.hijack()
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-request-id': request.id,
      // No buffering in nginx-like proxies: each event must reach the client as it is written.
      'x-accel-buffering': 'no',
    })
    reply.raw.write(': auditq feed\n\n')
    try {
      while (!gone.signal.aborted) {
        const page = await waitForFeedPage(feed, after, limits.defaultLimit, { waitMs: SSE_HEARTBEAT_MS, pollMs: limits.pollMs, signal: gone.signal, skipTenant: options.systemTenant })
        if (gone.signal.aborted) break
        let chunk = ''
        for (const item of page.events) chunk += `id: ${item.cursor}\nevent: audit\ndata: ${JSON.stringify(formatFeedEvent(item, format, ocsf))}\n\n`
        // An empty page (deleted positions, or nothing new) still moves the position; tell the client.
        chunk += page.events.length === 0 ? `: idle ${page.next}\n\n` : ''
        after = decodeFeedCursor(page.next, tenant)
        if (!reply.raw.write(chunk)) await new Promise<void>((resolve) => {
          reply.raw.once('drain', resolve)
          gone.signal.addEventListener('abort', () => resolve(), { once: true })
        })
      }
    } catch (error) {
      // Headers are sent: the error can only end the stream, as an event the client can read.
      const code = error instanceof AuditqError ? error.code : 'AUDITQ_INTERNAL'
      request.log.warn({ err_message: (error as Error).message }, 'feed stream ended by an error')
      if (!gone.signal.aborted) reply.raw.write(`event: error\ndata: ${JSON.stringify({ code })}\n\n`)
    } finally {
      reply.raw.end()
    }
  })
}

/**
 * The tenant a feed read is bound to, undefined for every tenant. A key's tenant binds it (as for
 * every read); a key with the admin scope may read all tenants or name any one.
 */
function feedTenant(request: FastifyRequest, requested: string | undefined): string | undefined {
  if (request.principal.scopes.has('admin')) return requested
  return tenantScope(request, requested)
}

function parseBounded(value: string | undefined, field: string, bounds: { min: number; max: number; fallback: number }, errors: FieldError[]): number {
  if (value === undefined) return bounds.fallback
  const number = /^\d{1,6}$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(number) || number < bounds.min || number > bounds.max) {
    errors.push({ field, rule: 'range', message: `must be an integer from ${bounds.min} to ${bounds.max}; got ${JSON.stringify(value.slice(0, 20))}` })
    return bounds.fallback
  }
  return number
}

function parseFormat(value: string | undefined, errors: FieldError[]): FeedFormat {
  if (value === undefined) return 'json'
  if ((FEED_FORMATS as readonly string[]).includes(value)) return value as FeedFormat
  errors.push({ field: 'format', rule: 'enum', message: `must be one of ${FEED_FORMATS.join(', ')}` })
  return 'json'
}

function rejectUnknown(raw: Record<string, unknown>, known: readonly string[], errors: FieldError[]): void {
  for (const name of Object.keys(raw)) {
    if (!known.includes(name)) errors.push({ field: name, rule: 'unknown', message: `is not a parameter of this endpoint (${known.join(', ')})` })
  }
}

