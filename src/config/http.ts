import { z } from 'zod'
import { DEFAULT_REDACT_KEYS } from '../event/redact.js'
import { isProxyAddress, parseJsonSetting } from './fields.js'

/** Config sections of the HTTP service: request limits, who may call it, the access trail it writes and the embeddable viewer. */

export const httpSchema = z
  .strictObject({
    /** 4 MiB fits 1,000 typical events; larger bodies are refused before parsing. */
    bodyLimitBytes: z.number().int().min(1_024).default(4 * 1024 * 1024),
    maxEventsPerRequest: z.number().int().min(1).max(10_000).default(1_000),
    /** One NDJSON line holds one event: 16 KiB metadata plus fields, with room to spare. */
    maxNdjsonLineBytes: z.number().int().min(256).default(64 * 1024),
    /**
     * Arrays and objects nested deeper than this in a JSON body or NDJSON line are refused
     * before parsing (parsing `[[[…` builds one array per byte and stalls every other request).
     * An event needs at most 11: three of envelope and 8 of metadata, hence the floor of 16.
     */
    maxJsonDepth: z.coerce.number().int().min(16).max(10_000).default(32),
    /**
     * A request's headers and body must arrive within this, however slowly they trickle (an idle
     * timer would be reset by every byte); then 408 and the connection is closed. A 4 MiB body
     * needs ~17 s at 2 Mbit/s, so 30 s leaves slow links room while bounding how long a stalled
     * upload holds its share of the in-flight body budget.
     */
    requestTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /**
     * Request-body bytes one process holds at once, across all connections (each parsed body
     * costs a few times its size until its response is sent). 64 MiB is 16 bodies at the limit,
     * or thousands of ordinary ones; past it, 503 AUDITQ_OVERLOADED with Retry-After.
     */
    maxBodyBytesInFlight: z.coerce.number().int().min(1_024).default(64 * 1024 * 1024),
    maxQueryLimit: z.number().int().min(1).max(10_000).default(1_000),
    defaultQueryLimit: z.number().int().min(1).default(100),
    /**
     * Retry-After on a 503 that a retry can cure (the store or its pool unavailable, the queue
     * unreachable): long enough that clients do not hammer a recovering database, short enough
     * that a failover of a few seconds costs little.
     */
    unavailableRetryAfterSeconds: z.number().int().min(1).max(3_600).default(2),
  })
  .prefault({})

export const accessSchema = z
  .strictObject({
    /**
     * Identical reads (same key, address, tenant and filter) within this window are one aggregate
     * event: a dashboard polling every 2 s writes two events a minute, not thirty. 0 = every read.
     */
    aggregateWindowMs: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
    /** The tenant whose chain records every access to the trail (the accessed tenant is the resource) and auditq's own start and stop. */
    systemTenant: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/).default('auditq'),
  })
  .prefault({})

export const securitySchema = z
  .strictObject({
    /**
     * Token bucket per API key (per client IP in open mode), per process: N service processes
     * give a key N× this budget. 100 requests/s of up to 1,000 events each is far above one
     * client's honest need; 0 turns the limit off.
     */
    rateLimitPerSecond: z.coerce.number().min(0).default(100),
    /** Requests a quiet key may send at once before the per-second rate applies. */
    rateLimitBurst: z.coerce.number().int().min(1).default(200),
    /**
     * Failed authentications (401) a client address may cause: a burst, then this many per
     * second; past it the address gets 429 before its key is even looked up, so guessing key
     * ids cannot cost a key-store round trip per request. 0 turns it off.
     */
    failedAuthPerSecond: z.coerce.number().min(0).default(1),
    failedAuthBurst: z.coerce.number().int().min(1).default(30),
    /**
     * Reverse proxies whose X-Forwarded-For is believed: addresses, CIDRs (10.0.0.0/8) or
     * `loopback` / `linklocal` / `uniquelocal`. Behind a proxy every request arrives from its
     * address, so without this the failed-auth lockout and open-mode rate limit would treat all
     * clients as one. Empty (the default): the header is ignored and the socket's peer is the client.
     */
    trustedProxies: z.array(z.string().trim().refine(isProxyAddress, 'must be an IP address, a CIDR (address/prefix) or loopback, linklocal, uniquelocal')).default([]),
    /** Metadata keys stored as "[REDACTED]" (case-insensitive, whole words of a key, any depth). */
    redactKeys: z
      .array(z.string().min(1).max(64))
      // The list itself lives beside the redaction code: the Workers edition redacts with it and cannot load this file.
      .default([...DEFAULT_REDACT_KEYS]),
    /** Store only the network of an IP address (/24 for IPv4, /48 for IPv6), for deployments that treat IPs as personal data. */
    ipTruncation: z.enum(['none', '24/48']).default('none'),
    /** How long a verified key (or "no keys exist") is trusted without asking the store: revocation takes effect within this. */
    keyCacheTtlMs: z.coerce.number().int().min(0).max(300_000).default(10_000),
    /**
     * While the key store cannot be asked (PostgreSQL down), how long past its TTL a key's last
     * answer still stands: queue mode keeps accepting from keys verified before the outage. A
     * key with no answer this young gets 503 AUDITQ_STORE_UNAVAILABLE. An hour covers a
     * database restart or failover; 0 makes every request past the TTL need the store.
     */
    keyCacheMaxStaleMs: z.coerce.number().int().min(0).max(7 * 24 * 3_600_000).default(3_600_000),
    /** After a failed key-store call, answer from the cache without asking for this long, so an outage costs no wait per request. */
    keyStoreRetryMs: z.number().int().min(0).max(60_000).default(1_000),
  })
  .prefault({})

export const viewerSchema = z
  .strictObject({
    /**
     * HS256 secret that signs viewer tokens; unset = the viewer's routes answer 404. Rotating
     * it invalidates every token minted before. 32+ characters: HS256 wants 256 bits of key.
     */
    signingSecret: z.string().min(32, 'must be at least 32 characters (openssl rand -base64 48)').optional(),
    /**
     * Origins of the application's pages that may embed the viewer: CORS on /viewer.js and the
     * viewer's routes, and `frame-ancestors` of the standalone page. Empty (default): same
     * origin only; never `*`.
     */
    allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin: scheme://host[:port], no path')).default([]),
    /**
     * Display templates per action, `{"user.invited": "{actor_name} invited {targets.user.name}"}`:
     * the viewer, the dashboard and the HTML report render them as text, with a fallback when a
     * field is missing. In AUDITQ_DISPLAY_TEMPLATES as JSON.
     */
    templates: z
      .preprocess((value) => (typeof value === 'string' ? parseJsonSetting(value) : value), z.record(z.string().min(1).max(200), z.string().min(1).max(500)))
      .default({}),
  })
  .prefault({})
