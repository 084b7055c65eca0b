import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AuditqError } from '../errors.js'

export interface DashboardOptions {
  /** What `GET /` answers to a client that does not ask for HTML (curl, fetch, scripts). */
  apiIndex: Record<string, unknown>
}

/**
 * The page's assets: plain files beside this module (copied next to the compiled module by
 * `npm run build`), read once at registration and served from memory. The list is closed: a
 * request names a key of this map, never a path, so nothing else on disk can be reached.
 */
const ASSETS: Record<string, string> = {
  'dashboard.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'events-table.js': 'text/javascript; charset=utf-8',
  'panels.js': 'text/javascript; charset=utf-8',
}

export const ASSETS_DIR = join(import.meta.dirname, 'assets')

/**
 * Defence in depth behind the page's own escaping (it builds the DOM with textContent only): no
 * inline script or style, nothing from another origin, no framing, no form posts, no plugins.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * GET / (the page for a browser, the JSON index for everyone else), GET /dashboard (always the
 * page) and GET /dashboard/assets/:name. All public: they carry no data; the page's own API calls
 * go to the data endpoints, which check the caller's key.
 */
export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const page = readFileSync(join(ASSETS_DIR, 'index.html'))
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: readFileSync(join(ASSETS_DIR, name)) }]))

  const sendPage = (reply: FastifyReply) =>
    secure(reply).header('content-type', 'text/html; charset=utf-8').header('content-security-policy', DASHBOARD_CSP).send(page)

  app.get('/', { config: { access: 'public' } }, async (request, reply) => {
    // Caches must key on Accept, or a proxy could hand a browser the JSON (or curl the HTML).
    reply.header('vary', 'Accept')
    if (wantsHtml(request)) return sendPage(reply)
    return options.apiIndex
  })

  app.get('/dashboard', { config: { access: 'public' } }, async (_request, reply) => sendPage(reply))

  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', { config: { access: 'public' } }, async (request, reply) => {
    const asset = assets.get(request.params.name)
    if (!asset) throw new AuditqError('AUDITQ_NOT_FOUND', `no dashboard asset named ${JSON.stringify(request.params.name.slice(0, 64))}`)
    return secure(reply).header('content-type', asset.type).send(asset.body)
  })
}

/** Browsers list text/html in Accept on navigation; fetch, curl and HTTP libraries send `*\/*` or JSON. */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept
  if (typeof accept !== 'string') return false
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const refused = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p))
    return (type === 'text/html' || type === 'application/xhtml+xml') && !refused
  })
}

function secure(reply: FastifyReply): FastifyReply {
  // Revalidate every load so an upgrade's page and scripts never mix with a cached older copy.
  return reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
}
