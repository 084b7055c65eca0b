import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { packageVersion } from '../../version.js'
import { documented, type HttpMethod, type RouteContract } from './contract.js'
import { buildOpenApiDocument } from './openapi.js'

export interface RegisteredRoute {
  method: string
  url: string
  /** Undefined for a route registered without a contract. */
  contract?: RouteContract
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on this server (HEAD twins included), as onRoute saw them. */
    registeredRoutes(): readonly RegisteredRoute[]
  }
}

/** Routes that are not part of the API and stay out of the document, each with its reason. */
export const UNDOCUMENTED_ROUTES: Readonly<Record<string, string>> = {
  'GET /': 'answers the dashboard page to browsers and a plain JSON index to everyone else; neither is an API a client generates code for',
  'GET /dashboard': "the dashboard's HTML page",
  'GET /dashboard/assets/:name': "the dashboard's own scripts and stylesheet",
  'GET /viewer.js': "the embeddable viewer's web component (a script for browsers)",
  'GET /viewer': "the viewer's standalone HTML page, for an iframe",
  'OPTIONS /v1/viewer/*': "the CORS preflight browsers send before the viewer's reads; it answers headers only",
}

export const OPENAPI_CONTRACT: RouteContract = {
  method: 'GET',
  url: '/openapi.json',
  operationId: 'getOpenApiDocument',
  summary: 'This document (OpenAPI 3.1)',
  description: 'Public: it describes shapes, never data.',
  tags: ['meta'],
  access: 'public',
  responses: { 200: { description: 'The OpenAPI document.', content: { 'application/json': { schema: z.looseObject({ openapi: z.string(), paths: z.looseObject({}) }) } } } },
  errors: [],
}

/**
 * Records every route (onRoute: must run before any route is registered) and serves GET
 * /openapi.json, built once from the contracts of the routes this server actually registered.
 */
export function installApiContract(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const contract = route.config?.contract
    for (const method of methods) routes.push({ method: String(method), url: route.url, ...(contract ? { contract } : {}) })
  })
  app.decorate('registeredRoutes', () => routes)
  let document: string | undefined
  app.get(OPENAPI_CONTRACT.url, documented(OPENAPI_CONTRACT), async (_request, reply) => {
    document ??= JSON.stringify(
      buildOpenApiDocument(
        routes.flatMap((route) => (route.contract && route.contract.method === (route.method as HttpMethod) ? [route.contract] : [])),
        { title: 'auditq', version: packageVersion(), description: 'The auditq HTTP API: log audit events, query and export them, verify their hash chain, report, monitor.' },
      ),
    )
    return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document)
  })
}
