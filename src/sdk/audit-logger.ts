import { CONFIG_DEFAULTS } from '../config.js'
import { openStore } from '../store/open-store.js'
import { createLogger } from '../util/logger.js'
import type { AuditLogger, AuditLoggerOptions } from './types.js'

export type { AuditLogger, AuditLoggerOptions, BulkOptions, BulkResult, RejectedEvent } from './types.js'

/**
 * Opens the store (unless one is given) and returns the logger of the mode the options ask for:
 * queue mode when `redisUrl` or `queue` is set, else direct mode. Each mode's code is loaded only
 * when chosen, so a direct-mode program never loads the Redis client.
 */
export async function createAuditLogger(options: AuditLoggerOptions = {}): Promise<AuditLogger> {
  const ownership = { ownsStore: options.store === undefined }
  const logger = options.logger ?? createLogger({ level: 'warn', name: 'auditq-sdk' })
  const store =
    options.store ??
    (await openStore({ databaseUrl: options.databaseUrl, databaseSchema: options.databaseSchema, dataDir: options.dataDir ?? CONFIG_DEFAULTS.dataDir, embeddedDriver: options.embeddedDriver, logger }))
  const resolved = { ...options, logger }
  try {
    if (options.redisUrl || options.queue) {
      const { createQueuedAuditLogger } = await import('./queued-logger.js')
      return await createQueuedAuditLogger(store, resolved, ownership)
    }
    const { DirectAuditLogger } = await import('./direct-logger.js')
    return new DirectAuditLogger(store, resolved, ownership)
  } catch (error) {
    if (ownership.ownsStore) await store.close().catch(() => undefined)
    throw error
  }
}
