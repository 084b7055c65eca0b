import { CONFIG_DEFAULTS } from '../config.js'
import { openStore } from '../store/open-store.js'
import { withShredding } from '../store/shredding-store.js'
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
  const opened =
    options.store ??
    (await openStore({ databaseUrl: options.databaseUrl, databaseSchema: options.databaseSchema, dataDir: options.dataDir ?? CONFIG_DEFAULTS.dataDir, embeddedDriver: options.embeddedDriver, logger }))
  let store = opened
  const resolved = { ...options, logger }
  try {
    // Shredding: the logger seals every event before it leaves (queue or store), and its `store`
    // reveals on every read. Off (no `shredding`): the store is used exactly as opened.
    if (options.shredding) store = withShredding(opened, options.shredding).store
    if (options.redisUrl || options.queue) {
      const { createQueuedAuditLogger } = await import('./queued-logger.js')
      return await createQueuedAuditLogger(store, resolved, ownership)
    }
    const { DirectAuditLogger } = await import('./direct-logger.js')
    return new DirectAuditLogger(store, resolved, ownership)
  } catch (error) {
    if (ownership.ownsStore) await opened.close().catch(() => undefined)
    throw error
  }
}
