import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AuditqError, isAuditqError } from '../errors.js'
import type { PrincipalResolver } from './principal.js'

export interface RateLimitOptions {
  /** Tokens added per second; 0 turns the limit off. */
  perSecond: number
  /** Bucket size: requests a quiet caller may send at once. */
  burst: number
  /** Bound on tracked callers; past it the longest-idle bucket is forgotten (it starts full again). */
  maxBuckets?: number
  now?: () => number
}

interface Bucket {
  tokens: number
  at: number
}

/**
 * Token buckets in process memory, one per caller. Our own ~40 lines rather than
 * @fastify/rate-limit: we need the key's id (known only after our access hook) as the bucket,
 * our catalog error body, and no new dependency; a shared Redis budget is not needed while the
 * documented rule is "N processes give a key N× the budget".
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  private readonly maxBuckets: number
  private readonly now: () => number

  constructor(private readonly options: RateLimitOptions) {
    this.maxBuckets = options.maxBuckets ?? 100_000
    this.now = options.now ?? Date.now
  }

  /** Takes one token; when none is left, says how many whole seconds until one is. */
  take(caller: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const { perSecond, burst } = this.options
    const at = this.now()
    const previous = this.buckets.get(caller)
    const tokens = previous ? Math.min(burst, previous.tokens + ((at - previous.at) / 1000) * perSecond) : burst
    // Re-inserting keeps Map order = least recently used first, which is what eviction drops.
    this.buckets.delete(caller)
    if (tokens < 1) {
      this.buckets.set(caller, { tokens, at })
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)) }
    }
    this.buckets.set(caller, { tokens: tokens - 1, at })
    if (this.buckets.size > this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!)
    return { ok: true }
  }

  /** Whole tokens a caller has right now, without taking one (a full bucket for an unknown caller). */
  available(caller: string): number {
    const previous = this.buckets.get(caller)
    if (!previous) return this.options.burst
    return Math.min(this.options.burst, previous.tokens + ((this.now() - previous.at) / 1000) * this.options.perSecond)
  }

  get size(): number {
    return this.buckets.size
  }
}

/**
 * Limits every non-public route per API key (per client address in open mode, where there is no
 * key). Runs after access control, so a request without a valid key is refused as 401 before it
 * spends anyone's budget; public routes (health probes) are never limited.
 */
export function installRateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  if (options.perSecond <= 0) return
  const buckets = new TokenBuckets(options)
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access
    if (access === undefined || access === 'public') return
    const keyId = request.principal.keyId
    const verdict = buckets.take(keyId === null ? `ip:${request.ip}` : `key:${keyId}`)
    if (verdict.ok) return
    reply.header('retry-after', String(verdict.retryAfterSeconds))
    throw new AuditqError(
      'AUDITQ_RATE_LIMITED',
      `rate limit exceeded: ${keyId === null ? 'this client address' : 'this API key'} has used its burst of ${options.burst} requests and the refill of ${options.perSecond} per second; retry after ${verdict.retryAfterSeconds} s`,
      { details: { limit_per_second: options.perSecond, burst: options.burst, retry_after_seconds: verdict.retryAfterSeconds } },
    )
  })
}

/**
 * Failed authentications per client address: every key the resolver refuses costs the address a
 * token, and an address with none left gets 429 before its key is looked up. Without it each
 * made-up key id costs a key-store round trip and a cache slot, so a guessing client could load the
 * database and push real keys out of the cache. Failures are counted where they happen — in the
 * resolver — so a public route (health), which answers a bad key as anonymous, cannot be used to
 * guess without limit either. Returns the resolver to install.
 */
export function limitFailedAuth(app: FastifyInstance, resolve: PrincipalResolver, options: RateLimitOptions): PrincipalResolver {
  if (options.perSecond <= 0) return resolve
  const buckets = new TokenBuckets(options)
  const exhausted = (request: FastifyRequest) => {
    const tokens = buckets.available(`ip:${request.ip}`)
    return tokens >= 1 ? null : Math.max(1, Math.ceil((1 - tokens) / options.perSecond))
  }
  const refusal = (retryAfterSeconds: number) =>
    new AuditqError(
      'AUDITQ_RATE_LIMITED',
      `too many failed authentications from this client address (burst ${options.burst}, then ${options.perSecond} per second); retry after ${retryAfterSeconds} s with a valid key`,
      { details: { failed_auth_per_second: options.perSecond, burst: options.burst, retry_after_seconds: retryAfterSeconds } },
    )
  // Non-public routes answer 429 with Retry-After before anything else runs.
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access
    if (access === undefined || access === 'public') return
    const retryAfterSeconds = exhausted(request)
    if (retryAfterSeconds === null) return
    reply.header('retry-after', String(retryAfterSeconds))
    throw refusal(retryAfterSeconds)
  })
  return async (request) => {
    const retryAfterSeconds = exhausted(request)
    if (retryAfterSeconds !== null) throw refusal(retryAfterSeconds)
    try {
      return await resolve(request)
    } catch (error) {
      if (isAuditqError(error) && error.code === 'AUDITQ_UNAUTHORIZED') buckets.take(`ip:${request.ip}`)
      throw error
    }
  }
}
