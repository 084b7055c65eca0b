import type { FastifyInstance } from 'fastify'
import { MAX_KEY_LENGTH, parseKey } from '../auth/api-key.js'
import { AuditqError, isAuditqError } from '../errors.js'
import { presentsCredentials, type PrincipalResolver } from './principal.js'

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
 * Failed authentications, counted per client address and per presented key id: every presented
 * key the resolver refuses costs both a token, and once either has none left the refusal is 429
 * instead of 401. Each made-up key id costs a key-store round trip and a cache slot, so a client
 * that keeps failing is told to back off; one hammering a single key id from many addresses is
 * caught by the key id's bucket.
 *
 * The lockout refuses only requests whose key fails: a valid key always authenticates, whatever
 * its address or id has suffered, so clients sharing a NAT or proxy address (or a key whose id an
 * attacker is spraying) are never locked out by someone else's failures. That is no guessing
 * oracle: a key is 256 random bits, and an unknown id and a wrong secret are refused alike.
 * Requests presenting no credentials cost nothing to refuse and are not counted, so health
 * probes never drain anyone's budget. `request.ip` is the client behind a trusted proxy (the
 * `trustProxy` setting), the socket's peer otherwise. Returns the resolver to install.
 */
export function limitFailedAuth(resolve: PrincipalResolver, options: RateLimitOptions): PrincipalResolver {
  if (options.perSecond <= 0) return resolve
  const buckets = new TokenBuckets(options)
  return async (request) => {
    try {
      return await resolve(request)
    } catch (error) {
      if (!isAuditqError(error) || error.code !== 'AUDITQ_UNAUTHORIZED' || !presentsCredentials(request)) throw error
      const keyId = presentedKeyId(request.headers.authorization)
      const address = buckets.take(`ip:${request.ip}`)
      const key = keyId === undefined ? ({ ok: true } as const) : buckets.take(`key:${keyId}`)
      if (address.ok && key.ok) throw error
      const retryAfterSeconds = Math.max(address.ok ? 0 : address.retryAfterSeconds, key.ok ? 0 : key.retryAfterSeconds)
      const who = address.ok ? 'for this key id' : key.ok ? 'from this client address' : 'from this client address and for this key id'
      throw new AuditqError(
        'AUDITQ_RATE_LIMITED',
        `too many failed authentications ${who} (burst ${options.burst}, then ${options.perSecond} per second); retry after ${retryAfterSeconds} s, or send a valid key, which is always accepted`,
        { details: { failed_auth_per_second: options.perSecond, burst: options.burst, retry_after_seconds: retryAfterSeconds } },
      )
    }
  }
}

const BEARER_KEY = /^Bearer +(\S+) *$/i

/** The key id of a well-formed presented key (the part that names a stored record), or undefined. */
function presentedKeyId(header: string | undefined): string | undefined {
  if (header === undefined || header.length > MAX_KEY_LENGTH + 16) return undefined
  const token = BEARER_KEY.exec(header)?.[1]
  return token === undefined ? undefined : parseKey(token)?.keyId
}
