/**
 * Builds the OpenAPI 3.1 document from route contracts. JSON Schema comes from `z.toJSONSchema`
 * (draft 2020-12, which OpenAPI 3.1 uses as is); schemas with a `meta.id` become components.
 */
import { z } from 'zod'
import { STATUS_CODES } from 'node:http'
import { ERROR_CATALOG, type ErrorCode } from '../../errors.js'
import { COMMON_ERRORS, type ContentDoc, type RouteContract } from './contract.js'
import { ErrorBodySchema } from './schemas.js'

type Json = Record<string, unknown>

export interface DocumentInfo {
  title: string
  version: string
  description: string
}

const SECURITY_SCHEME = 'apiKey'
const VIEWER_SCHEME = 'viewerToken'

/** Which credential a route takes: none, an API key, or (the viewer's reads) a viewer token. */
function securityOf(contract: RouteContract): Json[] {
  if (contract.access === 'viewer-token') return [{ [VIEWER_SCHEME]: [] }]
  if (contract.access === 'public' && !contract.scopes) return []
  return [{ [SECURITY_SCHEME]: [] }]
}

export function buildOpenApiDocument(contracts: readonly RouteContract[], info: DocumentInfo): Json {
  const components: Record<string, Json> = {}
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const json = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json
    const defs = (json.$defs ?? {}) as Record<string, Json>
    delete json.$defs
    delete json.$schema
    for (const [name, def] of Object.entries(defs)) components[name] = rewriteRefs(def) as Json
    // A top-level schema with an id comes back as a bare $ref into its own $defs.
    return rewriteRefs(json) as Json
  }
  const content = (docs: Record<string, ContentDoc>, io: 'input' | 'output') =>
    Object.fromEntries(
      Object.entries(docs).map(([type, doc]) => [type, { schema: toSchema(doc.schema, io), ...(doc.examples ? { examples: doc.examples } : {}) }]),
    )

  const paths: Record<string, Record<string, Json>> = {}
  for (const contract of [...contracts].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method))) {
    const path = contract.url.replace(/:(\w+)/g, '{$1}')
    const operation: Json = {
      operationId: contract.operationId,
      summary: contract.summary,
      ...(contract.description ? { description: contract.description } : {}),
      tags: contract.tags,
      ...(contract.deprecated ? { deprecated: true } : {}),
      // Public routes take no key; the viewer's reads take a viewer token; every other route needs
      // a key with its scope (`x-auditq-scope`; `admin|viewer` when either will do).
      security: securityOf(contract),
      'x-auditq-scope': contract.scopes ? contract.scopes.join('|') : contract.access,
    }
    const parameters = [
      ...parametersOf(contract.params, 'path', toSchema),
      ...parametersOf(contract.query, 'query', toSchema),
    ]
    if (parameters.length > 0) operation.parameters = parameters
    if (contract.body) operation.requestBody = { required: true, content: content(contract.body.content, 'input') }
    const responses: Json = {}
    for (const [status, response] of Object.entries(contract.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.headers ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) } : {}),
        ...(response.content ? { content: content(response.content, 'output') } : {}),
      }
    }
    for (const [status, codes] of errorsByStatus(contract)) {
      responses[status] = {
        description: `${STATUS_CODES[status] ?? 'Error'}: ${codes.join(', ')}`,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
      }
    }
    operation.responses = responses
    ;(paths[path] ??= {})[contract.method.toLowerCase()] = operation
  }
  toSchema(ErrorBodySchema, 'output')
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: [...new Set(contracts.flatMap((contract) => contract.tags))].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key from `auditq keys create`, sent as `Authorization: Bearer <key>`. Each key has scopes (ingest, read, admin, viewer) and may be bound to one tenant.',
        },
        [VIEWER_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'auditq viewer token',
          description:
            "A short-lived viewer token minted by the application's backend (`POST /v1/viewer-tokens`, or the SDK), sent as `Authorization: Bearer <token>`. It names one tenant, optional restrictions (an actor, resource types) and permissions (read, export); the `/v1/viewer/` routes accept only such a token, never an API key.",
        },
      },
    },
  }
}

function parametersOf(schema: z.ZodObject | undefined, where: 'path' | 'query', toSchema: (schema: z.ZodType, io: 'input') => Json): Json[] {
  if (!schema) return []
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = toSchema(field as z.ZodType, 'input')
    const { description, ...rest } = json
    return { name, in: where, required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success, ...(description ? { description } : {}), schema: rest }
  })
}

function errorsByStatus(contract: RouteContract): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>()
  // A viewer route refuses a missing or bad token with its own codes, never AUDITQ_UNAUTHORIZED.
  const common = contract.access === 'viewer-token' ? COMMON_ERRORS.filter((code) => code !== 'AUDITQ_UNAUTHORIZED') : COMMON_ERRORS
  const codes = new Set<ErrorCode>([...contract.errors, ...(contract.access === 'public' && !contract.scopes ? [] : common)])
  if (contract.access === 'public') codes.add('AUDITQ_OVERLOADED')
  for (const code of codes) {
    const status = ERROR_CATALOG[code].status
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  return new Map([...byStatus.entries()].sort(([a], [b]) => a - b))
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, key === '$ref' && typeof inner === 'string' ? inner.replace('#/$defs/', '#/components/schemas/') : rewriteRefs(inner)]),
  )
}
