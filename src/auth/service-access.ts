import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import type { Logger } from '../util/logger.js'
import type { KeyStore } from './key-store.js'
import { isLoopbackHost } from './loopback.js'
import { createKeyResolver, type KeyResolver } from './resolver.js'

export interface ServiceAccess {
  resolver: KeyResolver
}

/**
 * Decides at start whether the service runs open or keyed. With no key: on loopback it runs
 * open and logs so loudly; on any other address it refuses to start unless `insecure`. Keys
 * created while it runs close it within `security.keyCacheTtlMs` (see `createKeyResolver`).
 * `keys` is the event store's (`store.keys`), so the store must be open and migrated first (it
 * creates the `api_keys` table); the store closes it.
 */
export async function startServiceAccess(keys: KeyStore, config: Config, logger: Logger, options: { insecure: boolean }): Promise<ServiceAccess> {
  const resolver = createKeyResolver({
    keys,
    cacheTtlMs: config.security.keyCacheTtlMs,
    maxStaleMs: config.security.keyCacheMaxStaleMs,
    storeRetryMs: config.security.keyStoreRetryMs,
    openRequiresLoopbackHost: !options.insecure,
    onKeyed: () => logger.warn('API keys exist now: every request needs "Authorization: Bearer <key>" from here on'),
    onStoreState: ({ available, error }) => {
      if (available) logger.info('API key store reachable again: keys are verified (and revocations honoured) as usual')
      else {
        logger.warn(
          { err: error, max_stale_ms: config.security.keyCacheMaxStaleMs },
          'API key store unreachable: keys verified before keep working for up to keyCacheMaxStaleMs past their TTL; keys not verified since start get 503 AUDITQ_STORE_UNAVAILABLE',
        )
      }
    },
  })
  if (await resolver.isOpen()) {
    if (!isLoopbackHost(config.host) && !options.insecure) {
      throw new AuditqError(
        'AUDITQ_CONFIG',
        `refusing to listen on ${config.host} with no API keys: anyone who can reach it could read every tenant's audit trail. Create a key (auditq keys create --tenant <t> --scopes ingest,read,admin), bind to 127.0.0.1, or pass --insecure`,
      )
    }
    logger.warn(
      { host: config.host, insecure: options.insecure },
      'OPEN MODE: no API keys exist, so every request is allowed with full access to every tenant. Create a key with `auditq keys create` to require keys.',
    )
  }
  return { resolver }
}
