import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/** An auditq API key's secret part (see src/auth/api-key.ts); the key id before it is not secret. */
const API_KEY_SECRET = /\b(aq_[0-9a-f]{16}_)[A-Za-z0-9_-]{8,}/g

/** Masks the secret of every API key in a text (a URL a client put its key into, say). */
export function maskApiKeys(text: string): string {
  return text.replace(API_KEY_SECRET, '$1[REDACTED]')
}

/**
 * fastify's request line (method, url, host, remote address), with any API key in the URL
 * masked: a client that puts `?api_key=aq_…` in a query string must not get it into our logs.
 */
function request(req: { method?: string; url?: string; host?: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : maskApiKeys(req.url),
    host: req.host ?? req.hostname,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

/**
 * Structured JSON logs on stderr, so stdout stays clean for CLI output (query results, exports).
 * Event payloads are never logged at info level; failures log an event's id and action only.
 * `destination` is for tests that read what the service logged.
 */
export function createLogger(options: { level?: string; name?: string } = {}, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'auditq',
      // Defence in depth: should a header or key ever reach a log call, it is masked.
      redact: ['req.headers.authorization', 'headers.authorization', 'apiKey', 'api_key'],
      serializers: { req: request },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  )
}
