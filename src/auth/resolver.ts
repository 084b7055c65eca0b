import type { FastifyRequest } from 'fastify'
import { AuditqError } from '../errors.js'
import { OPEN_PRINCIPAL, type Principal } from './principal.js'
import { MAX_KEY_LENGTH, parseKey, secretMatches } from './api-key.js'
import type { KeyStore, StoredApiKey } from './key-store.js'
import { isLoopbackHost } from './loopback.js'

export interface KeyResolverOptions {
  keys: KeyStore
  /** How long a key read from the store (or its absence) is trusted: revocation takes effect within this. */
  cacheTtlMs: number
  /**
   * How long past its TTL an answer may still be used while the store cannot be asked (down,
   * unreachable, its pool exhausted). 0: every request past the TTL needs the store.
   */
  maxStaleMs?: number
  /**
   * After a failed store call, how long to answer from the cache (or 503) without asking again, so
   * an outage costs each request a map lookup rather than a wait on a dead pool.
   */
  storeRetryMs?: number
  /** Bound on cached key ids, so a flood of made-up ids cannot grow memory without end. */
  maxCachedKeys?: number
  /** Called once, when the first key appears and the service stops being open. */
  onKeyed?: () => void
  /** Called when the store stops answering and an answer older than its TTL is used instead, and when it answers again. */
  onStoreState?: (state: { available: boolean; error?: unknown }) => void
  /**
   * Open mode answers only requests addressed to a loopback host name (default true). A web page
   * a developer visits can rebind its own DNS name to 127.0.0.1 and read an open service as
   * same-origin; its requests still carry that name in Host, so they are refused. `--insecure`
   * turns this off (an open service reached through a proxy or another address).
   */
  openRequiresLoopbackHost?: boolean
  now?: () => number
}

export interface KeyResolver {
  resolve: (request: FastifyRequest) => Promise<Principal>
  /** True while no key exists (and none has since the process started): every request is allowed. */
  isOpen(): Promise<boolean>
}

interface CacheEntry {
  key: StoredApiKey | null
  principal: Principal | null
  /** When the store last gave this answer. */
  at: number
}

const BEARER = /^Bearer +(\S+) *$/i

/**
 * Turns `Authorization: Bearer <key>` into a principal. Keys are cached for `cacheTtlMs` so a
 * request costs a hash and a map lookup, not a database round trip; a revoked key keeps working
 * for at most that long.
 *
 * When the store cannot answer, the last answer it gave stands for up to `maxStaleMs` past its
 * TTL: a key verified before the outage keeps working (queue mode exists to accept events while
 * the database is down), a key known to be unknown or revoked stays refused. A key the process
 * has no answer for, or only one older than that, gets 503 AUDITQ_STORE_UNAVAILABLE: it cannot be
 * told from a forged one. Revocation takes effect again as soon as the store answers.
 *
 * Open mode is a one-way latch: while no key exists every caller is the open principal (the
 * loopback quick start); the store is asked again at most once per TTL, and once a key exists the
 * service requires keys until it restarts — even if every key is later revoked, because revoking
 * the last key must lock the service, not reopen it. While the store is down the last "no keys"
 * answer stands for as long as the outage lasts: open mode never needs the store (a key can only
 * be created in it), and open mode serves loopback callers only unless started `--insecure`.
 */
export function createKeyResolver(options: KeyResolverOptions): KeyResolver {
  const now = options.now ?? Date.now
  const maxCached = options.maxCachedKeys ?? 10_000
  const maxStaleMs = options.maxStaleMs ?? 0
  const storeRetryMs = options.storeRetryMs ?? 0
  const cache = new Map<string, CacheEntry>()
  // Concurrent requests for one key share one store call.
  const inFlight = new Map<string, Promise<CacheEntry>>()
  let keyed = false
  let checkedAt = Number.NEGATIVE_INFINITY
  let checking: Promise<boolean> | undefined
  /** When the last store call failed, while it is still failing; undefined when the last one answered. */
  let failedAt: number | undefined

  const usable = (at: number) => now() - at < options.cacheTtlMs + maxStaleMs
  const answeredOnce = () => Number.isFinite(checkedAt)
  const storeResting = () => failedAt !== undefined && now() - failedAt < storeRetryMs

  /** Asks the store, remembering whether it answered; a failure becomes AUDITQ_STORE_UNAVAILABLE. */
  async function ask<T>(call: () => Promise<T>): Promise<T> {
    if (storeResting()) throw unavailable('the API key store could not be reached a moment ago')
    try {
      const answer = await call()
      if (failedAt !== undefined) {
        failedAt = undefined
        options.onStoreState?.({ available: true })
      }
      return answer
    } catch (error) {
      if (failedAt === undefined) options.onStoreState?.({ available: false, error })
      failedAt = now()
      throw unavailable('the API key store could not be reached', error)
    }
  }

  async function isOpen(): Promise<boolean> {
    if (keyed) return false
    if (now() - checkedAt < options.cacheTtlMs) return true
    // Known to be failing and another request already probing it: keep the last "no keys" answer
    // rather than wait on the probe too.
    if (checking && failedAt !== undefined && answeredOnce()) return true
    checking ??= ask(() => options.keys.countAll())
      .then((created) => {
        checkedAt = now()
        if (created > 0 && !keyed) {
          keyed = true
          options.onKeyed?.()
        }
        return !keyed
      })
      .finally(() => (checking = undefined))
    try {
      return await checking
    } catch (error) {
      // The last answer was "no keys": it stands for the whole outage. Open mode must not need the
      // store (a key can only be created in that store), unlike a key's answer, which ages out.
      if (answeredOnce()) return true
      throw error
    }
  }

  async function lookup(keyId: string): Promise<CacheEntry> {
    const cached = cache.get(keyId)
    if (cached && now() - cached.at < options.cacheTtlMs) return cached
    let pending = inFlight.get(keyId)
    // Known to be failing and another request already probing it for this key: answer from the
    // cache rather than wait too, so a store that hangs (rather than refuses) stalls one request
    // per key and retry interval, not every request. The request that probes waits for the answer,
    // so a revocation is honoured from the first answer after the outage.
    if (pending && failedAt !== undefined && cached && usable(cached.at)) return cached
    if (!pending) {
      pending = ask(() => options.keys.findById(keyId))
        .then((key) => remember(keyId, key))
        .finally(() => inFlight.delete(keyId))
      inFlight.set(keyId, pending)
    }
    try {
      return await pending
    } catch (error) {
      if (cached && usable(cached.at)) return cached
      if (cached) throw unavailable(`the API key store could not be reached and this key was last verified ${Math.round((now() - cached.at) / 1000)} s ago, longer than the ${Math.round((options.cacheTtlMs + maxStaleMs) / 1000)} s an answer may be used without it`, error)
      throw unavailable('the API key store could not be reached and this key has not been verified since the service started', error)
    }
  }

  function remember(keyId: string, key: StoredApiKey | null): CacheEntry {
    const entry: CacheEntry = {
      key,
      principal: key && key.revoked_at === null ? Object.freeze({ keyId: key.id, keyName: key.name, tenantId: key.tenant_id, scopes: new Set(key.scopes) }) : null,
      at: now(),
    }
    cache.delete(keyId)
    cache.set(keyId, entry)
    // Map order is insertion order: the first entry is the one refreshed longest ago.
    if (cache.size > maxCached) cache.delete(cache.keys().next().value!)
    return entry
  }

  async function resolve(request: FastifyRequest): Promise<Principal> {
    if (await isOpen()) {
      if ((options.openRequiresLoopbackHost ?? true) && !isLoopbackHost(hostName(request.headers.host))) {
        throw new AuditqError('AUDITQ_FORBIDDEN', 'open mode (no API keys) answers only requests addressed to a loopback host such as 127.0.0.1 or localhost')
      }
      return OPEN_PRINCIPAL
    }
    const header = request.headers.authorization
    if (header === undefined || header === '') throw unauthorized('no API key: send "Authorization: Bearer <key>"')
    // Messages never quote the header: it may be a real key sent to the wrong place.
    const match = header.length <= MAX_KEY_LENGTH + 16 ? BEARER.exec(header) : null
    if (!match) throw unauthorized('the Authorization header must be "Bearer <key>" with an auditq API key')
    const parsed = parseKey(match[1]!)
    if (!parsed) throw unauthorized('the API key is not valid')
    const entry = await lookup(parsed.keyId)
    // Hash compared even when the key is unknown or revoked, so timing does not tell them apart.
    const matches = secretMatches(parsed.secret, entry.key?.secret_hash)
    if (!matches || !entry.principal) throw unauthorized('the API key is not valid')
    return entry.principal
  }

  return { resolve, isOpen }
}

/** The host name of a Host header: `[::1]:3000` → `::1`, `localhost:3000` → `localhost`. */
export function hostName(header: string | undefined): string {
  if (header === undefined) return ''
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']') === -1 ? undefined : header.indexOf(']'))
  const colon = header.indexOf(':')
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase()
}

function unauthorized(message: string): AuditqError {
  return new AuditqError('AUDITQ_UNAUTHORIZED', message)
}

/** A key store that cannot answer makes the request a 503 the client may retry, not a 500 or a 401. */
function unavailable(reason: string, cause?: unknown): AuditqError {
  return new AuditqError('AUDITQ_STORE_UNAVAILABLE', `${reason}; retry later`, cause === undefined ? {} : { cause })
}
