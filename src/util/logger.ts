import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * An auditq API key's secret part (see src/auth/api-key.ts); the key id before it is not secret.
 * No leading word boundary, and `_` may arrive percent-encoded (`%5F`): a key pasted into a URL
 * after `%20` or `%3D` must be masked too.
 */
const API_KEY_SECRET = /(aq(?:_|%5f)[0-9a-f]{16}(?:_|%5f))[A-Za-z0-9_%-]{8,}/gi

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

export type LogFormat = 'json' | 'pretty' | 'auto'

export interface LoggerOptions {
  level?: string
  name?: string
  /**
   * `json` (default: the SDK inside someone's app never changes format on its own), `pretty`
   * (pino-pretty), or `auto`: pretty when stderr is a terminal, JSON otherwise — what the CLI uses.
   */
  format?: LogFormat
  /** Where JSON lines go (tests capture them); default stderr. */
  destination?: DestinationStream
}

/**
 * Structured JSON logs on stderr, so stdout stays clean for CLI output (query results, exports).
 * Event payloads are never logged at info level; failures log an event's id and action only.
 * `destination` is for tests that read what the service logged.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    name: options.name ?? 'auditq',
    // Defence in depth: should a header or key ever reach a log call, it is masked.
    redact: ['req.headers.authorization', 'headers.authorization', 'req.headers["x-api-key"]', 'apiKey', 'api_key'],
    serializers: { req: request },
  }
  const format = options.format === 'auto' ? (process.stderr.isTTY === true ? 'pretty' : 'json') : (options.format ?? 'json')
  if (format === 'pretty' && options.destination === undefined) {
    // pino-pretty in pino's transport thread: formatting never runs on the event loop.
    return pino(settings, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }))
  }
  return pino(settings, options.destination ?? pino.destination({ fd: 2, sync: false }))
}
