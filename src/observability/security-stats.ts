/**
 * Requests refused for access or resource reasons, as the metrics read them (Prometheus counters).
 * Defined here, by the reader: the HTTP layer counts them (src/http/security-stats.ts) and hands
 * them over, so observability never depends on http.
 */
export interface SecurityStats {
  /** 401: no valid API key. */
  unauthorized: number
  /** 403: a key without the scope, or asking for another tenant. */
  forbidden: number
  /** 429: over the per-key rate limit. */
  rateLimited: number
  /** 503: a request body refused because the in-flight body budget was spent. */
  overloaded: number
  /** 408: a request whose headers and body did not arrive within the request timeout. */
  requestTimeouts: number
}
