import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

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
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    name: options.name ?? 'auditq',
    // Defence in depth: should a header or key ever reach a log call, it is masked.
    redact: ['req.headers.authorization', 'headers.authorization', 'req.headers["x-api-key"]', 'apiKey', 'api_key'],
  }
  const format = options.format === 'auto' ? (process.stderr.isTTY === true ? 'pretty' : 'json') : (options.format ?? 'json')
  if (format === 'pretty' && options.destination === undefined) {
    // pino-pretty in pino's transport thread: formatting never runs on the event loop.
    return pino(settings, pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }))
  }
  return pino(settings, options.destination ?? pino.destination({ fd: 2, sync: false }))
}
