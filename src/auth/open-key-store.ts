import { CONFIG_DEFAULTS } from '../config.js'
import type { EmbeddedDriverSetting } from '../store/embedded/sqlite-driver.js'
import type { KeyStore } from './key-store.js'

/**
 * Opens the key store beside the event store (same database, same schema). The event store's
 * migrate() creates `api_keys` (migration 10), so open that first.
 */
export async function openKeyStore(location: { databaseUrl?: string | undefined; databaseSchema?: string | undefined; dataDir: string; embeddedDriver?: EmbeddedDriverSetting | undefined }): Promise<KeyStore> {
  if (location.databaseUrl) {
    const { createPostgresKeyStore } = await import('./postgres-key-store.js')
    return createPostgresKeyStore({ connectionString: location.databaseUrl, schema: location.databaseSchema ?? CONFIG_DEFAULTS.databaseSchema })
  }
  const { createEmbeddedKeyStore } = await import('./embedded-key-store.js')
  return createEmbeddedKeyStore({ dataDir: location.dataDir, ...(location.embeddedDriver ? { driver: location.embeddedDriver } : {}) })
}
