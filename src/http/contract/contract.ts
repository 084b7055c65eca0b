/**
 * A route's contract: what it takes and answers, written once in zod. The server checks requests
 * with these schemas (`checkRequest`, run before the handler) and /openapi.json is generated from
 * the same objects (openapi.ts), so the document cannot drift from what the server accepts.
 */
import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import type { Scope } from '../../auth/principal.js'
import type { RouteAccess } from '../principal.js'
import type { AccessKind } from '../../access/access-event.js'
import { ERROR_CATALOG, type ErrorCode } from '../../errors.js'
import type { FieldError } from '../../event/types.js'
import { badRequest } from '../../query/filter.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface ContentDoc {
  schema: z.ZodType
  /** Named examples; request examples are sent to the running server by the contract test. */
  examples?: Record<string, { summary?: string; value: unknown }>
}

export interface ResponseDoc {
  description: string
  /** Media type → body; none for an empty body. */
  content?: Record<string, ContentDoc>
  /** Response headers worth a client's attention (Retry-After, Content-Disposition). */
  headers?: Record<string, string>
}

export interface RouteContract {
  method: HttpMethod
  /** fastify's path syntax (`/v1/events/:id`); openapi.ts writes it as `/v1/events/{id}`. */
  url: string
  operationId: string
  summary: string
  description?: string
  tags: string[]
  access: RouteAccess
  /**
   * For a route registered `public` that checks the key itself because any one of several scopes
   * will do (minting viewer tokens: admin or viewer): the scopes the document names.
   */
  scopes?: readonly Scope[]
  deprecated?: boolean
  /** Query string parameters, a zod object; unknown keys are refused when it is strict. */
  query?: z.ZodObject
  /** Path parameters, a zod object. */
  params?: z.ZodObject
  body?: {
    content: Record<string, ContentDoc>
    /**
     * `schema`: the whole body is checked against the schema before the handler (refused with
     * 400 AUDITQ_BAD_REQUEST). `per-item`: the route accepts what is valid and reports the rest
     * by index (ingest), so the body is checked item by item by the route itself. `route`: the
     * route checks the body with a parser it shares with the SDK (viewer tokens), so a caller of
     * either gets the same field errors; the schema documents what that parser accepts.
     */
    validation: 'schema' | 'per-item' | 'route'
  }
  /** Successful answers by status. */
  responses: Record<number, ResponseDoc>
  /** Catalog error codes this route can answer with besides the ones every route can (see COMMON_ERRORS). */
  errors: ErrorCode[]
  /**
   * The FieldError `rule` a failed pattern or refinement reports, by field, where the issue's own
   * kind does not say it (a pattern that means "a timestamp", a range, a UUID). The message is the
   * one the schema's check carries.
   */
  rules?: Record<string, string>
  /**
   * How an unknown query parameter is reported, for routes whose clients already read another
   * rule than `unknown_parameter` (the feed's `unknown`). `known` lists the documented parameters.
   */
  unknownParameter?: { rule: string; message: (known: readonly string[]) => string }
}

/** Every route can answer these (a bad key, rate limits, overload, a fault). */
export const COMMON_ERRORS: readonly ErrorCode[] = ['AUDITQ_UNAUTHORIZED', 'AUDITQ_RATE_LIMITED', 'AUDITQ_OVERLOADED', 'AUDITQ_INTERNAL']

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's documented contract: its requests are checked with it and /openapi.json lists it. */
    contract?: RouteContract
  }
}

/** Route options for a documented route: its access, its contract, and the check that enforces it. */
export function documented(
  contract: RouteContract,
  /** What a request is recorded as in the access trail (src/http/access-trail.ts); absent: not recorded. */
  options: { trail?: AccessKind } = {},
): {
  config: { access: RouteAccess; contract: RouteContract; trail?: AccessKind }
  preValidation: (request: FastifyRequest) => Promise<void>
} {
  for (const code of contract.errors) if (!(code in ERROR_CATALOG)) throw new Error(`unknown error code ${code}`)
  return {
    config: { access: contract.access, contract, ...(options.trail ? { trail: options.trail } : {}) },
    preValidation: async (request) => checkRequest(contract, request),
  }
}

/** Throws 400 AUDITQ_BAD_REQUEST naming every field that breaks the contract's schemas. */
export function checkRequest(contract: RouteContract, request: Pick<FastifyRequest, 'query' | 'params' | 'body'>): void {
  const errors: FieldError[] = []
  const check = (schema: z.ZodType | undefined, value: unknown, place: 'query' | 'params' | 'body') => {
    if (!schema) return
    const result = schema.safeParse(value ?? (place === 'body' ? undefined : {}))
    const known = place === 'query' && contract.query ? Object.keys(contract.query.shape) : []
    if (!result.success) {
      errors.push(...fieldErrors(result.error.issues, { rules: contract.rules ?? {}, place, known, ...(contract.unknownParameter ? { unknownParameter: contract.unknownParameter } : {}) }))
    }
  }
  check(contract.params, request.params, 'params')
  check(contract.query, request.query, 'query')
  if (contract.body?.validation === 'schema') {
    const schemas = Object.values(contract.body.content).map((content) => content.schema)
    check(schemas[0], request.body, 'body')
  }
  if (errors.length > 0) throw badRequest(errors)
}

/**
 * zod's issues in the API's own vocabulary (`field`, `rule`, `message`), unknown parameters
 * first, as the hand-written parsers have always reported them.
 */
export function fieldErrors(
  issues: readonly z.core.$ZodIssue[],
  context: { rules: NonNullable<RouteContract['rules']>; place: 'query' | 'params' | 'body'; known: readonly string[]; unknownParameter?: RouteContract['unknownParameter'] },
): FieldError[] {
  const { rules, place, known } = context
  const unknownRule = context.unknownParameter ?? { rule: 'unknown_parameter', message: (names: readonly string[]) => `unknown parameter; expected one of ${names.join(', ')}` }
  const unknown: FieldError[] = []
  const others: FieldError[] = []
  for (const issue of issues) {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : place === 'body' ? '(body)' : `(${place})`
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) unknown.push({ field: key, rule: unknownRule.rule, message: unknownRule.message(known) })
      continue
    }
    const named = rules[field]
    if (named && (issue.code === 'invalid_format' || issue.code === 'custom' || issue.code === 'invalid_value')) {
      others.push({ field, rule: named, message: issue.message })
    } else if (issue.code === 'invalid_type' && place === 'query' && issue.expected === 'string') {
      others.push({ field, rule: 'single_value', message: 'must be given once, as a string' })
    } else {
      others.push({ field, rule: RULE_BY_ISSUE[issue.code] ?? 'invalid', message: issue.message })
    }
  }
  // A value can break two checks that mean one thing (a limit that is no number is also out of range).
  const seen = new Set<string>()
  return [...unknown, ...others].filter((error) => {
    const key = `${error.field}\u0000${error.rule}`
    return seen.has(key) ? false : (seen.add(key), true)
  })
}

const RULE_BY_ISSUE: Partial<Record<z.core.$ZodIssue['code'], string>> = {
  invalid_type: 'type',
  too_small: 'length',
  too_big: 'length',
  invalid_value: 'enum',
  invalid_format: 'pattern',
  invalid_union: 'shape',
  custom: 'invalid',
}
