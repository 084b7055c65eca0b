import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * Structured JSON logs on stderr, so stdout stays clean for CLI output (query results, exports).
 * Event payloads are never logged at info level; failures log an event's id and action only.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'auditq',
      // Defence in depth: should a header or key ever reach a log call, it is masked.
      redact: ['req.headers.authorization', 'headers.authorization', 'apiKey', 'api_key'],
    },
    pino.destination({ fd: 2, sync: false }),
  )
}
